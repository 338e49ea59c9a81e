/**
 * `reproserver check-determinism PACKAGE`: runs the package unmodified twice (on one backend, or
 * once on each of `--backends docker,sandbox`) through the same `RunService` and
 * `DeterminismService` the API uses, then prints which outputs vary between the two identical
 * runs, with their diffs. With `--state DIR` the check is remembered there, as the server
 * remembers it (per package and backend). Exit codes: 0 every output identical, 1 some vary,
 * 2 bad usage, 3 a run did not succeed (nothing can be said).
 */
import { resolve } from 'node:path';
import { compareOutput } from '../compare/compare';
import { loadConfig, type ServerConfig } from '../config';
import { errorMessage } from '../describe';
import { CompareService } from '../service/compare';
import { DeterminismService } from '../service/determinism';
import { argsOrExit, lastValues } from './args';
import { printDetail } from './diff-print';
import {
  localRunService,
  refused,
  registerLocalPackage,
  sayWhereRunsGo,
  withLocalSession,
  type CommonOptions
} from './local-services';
import { CHECK_DETERMINISM_SPEC, CHECK_DETERMINISM_USAGE } from './usage';

const say = (line: string) => process.stdout.write(`${line}\n`);

type Backend = 'docker' | 'sandbox';

export async function checkDeterminismCommand(args: string[]): Promise<number> {
  const parsed = argsOrExit(CHECK_DETERMINISM_SPEC, args);
  if (typeof parsed === 'number') {
    return parsed;
  }
  const flags = lastValues(parsed.flags);
  if (parsed.positionals.length !== 1) {
    console.error(`Usage: ${CHECK_DETERMINISM_USAGE}`);
    return 2;
  }
  const requested = flags.backend ?? 'auto';
  if (!['auto', 'docker', 'sandbox'].includes(requested)) {
    console.error(
      `reproserver: unknown backend "${requested}"; use --backend auto, docker or sandbox.`
    );
    return 2;
  }
  let backends: [Backend, Backend] | undefined;
  if (flags.backends !== undefined) {
    const names = flags.backends.split(',');
    if (
      names.length !== 2 ||
      !names.every(name => name === 'docker' || name === 'sandbox') ||
      flags.backend !== undefined
    ) {
      console.error(
        'reproserver: --backends takes two backends, e.g. --backends docker,sandbox (and no --backend).'
      );
      return 2;
    }
    backends = names as [Backend, Backend];
  }
  let config: ServerConfig;
  try {
    config = loadConfig(flags);
  } catch (error) {
    console.error(`reproserver: ${errorMessage(error)}`);
    return 2;
  }
  const options: CommonOptions = {
    packagePath: resolve(parsed.positionals[0]),
    outDir: '',
    requested: requested as CommonOptions['requested'],
    config,
    keepState: flags.state !== undefined,
    image: flags.image,
    allowWeak: flags['allow-weak-isolation'] === 'true'
  };
  return withLocalSession(options, 'reproserver-check-', async session => {
    const pkg = await registerLocalPackage(session, options.packagePath);
    if (typeof pkg === 'number') {
      return pkg;
    }
    const runs = localRunService(session, pkg, {
      image: options.image,
      concurrency: 1,
      sandboxNotices: undefined
    });
    const compare = new CompareService(session.store);
    const determinism = new DeterminismService({
      runs,
      packages: pkg.packages,
      compare,
      records: session.store.records
    });
    let check;
    try {
      check = await determinism.start(pkg.sha256, {
        // Not slurm: refused above.
        ...(backends
          ? { backends }
          : { backend: options.requested as 'auto' | Backend }),
        acceptWeakIsolation: options.allowWeak
      });
    } catch (error) {
      return refused(error, options.requested);
    }
    await sayWhereRunsGo(session, check.backends[0] ?? null, options.requested);
    console.error(
      `[reproserver] determinism check ${check.id}: runs ${check.runs.join(' and ')} on ${check.backends.join(' and ')}`
    );
    await runs.idle();
    check = await determinism.get(check.id);
    if (check.state === 'failed') {
      console.error(`reproserver: ${check.reason}`);
      return 3;
    }
    if (check.state === 'identical') {
      say(`Outputs identical over 2 runs (${check.outputs.length} outputs).`);
      return 0;
    }
    say(
      `${check.varying.join(', ')} ${check.varying.length === 1 ? 'differs' : 'differ'} between identical runs.`
    );
    for (const output of check.outputs) {
      say(
        `  ${output.state === 'identical' ? 'identical' : 'varies   '}  ${output.name}`
      );
    }
    const [a, b] = check.runs;
    for (const output of check.outputs) {
      if (output.state !== 'identical') {
        printDetail(
          await compareOutput(compare.side(a), compare.side(b), output),
          say
        );
      }
    }
    return 1;
  });
}
