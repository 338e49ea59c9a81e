/**
 * `reproserver build PACKAGE`: builds (or finds) the Docker image of a package and prints its
 * reference. A thin shell over `buildImage`: progress goes to stderr, the reference to stdout, so
 * `image=$(reproserver build x.rpz)` works.
 */
import type { Writable } from 'node:stream';
import type { BuildEvent, BuildOptions, BuildPhase } from '../build';
import type * as BuildModule from '../build';
import { formatBytes } from '../contract/bytes';
import { errorMessage } from '../describe';
import { loadConfig } from '../config';
import { argsOrExit, lastValues } from './args';
import { BUILD_SPEC, BUILD_USAGE } from './usage';

export { BUILD_USAGE };

/** Where the command writes; replaceable for tests. */
export interface BuildIo {
  stdout: Pick<Writable, 'write'>;
  stderr: Pick<Writable, 'write'> & { isTTY?: boolean };
}

/** Human progress on stderr: a self-rewriting line on a terminal, a line a second otherwise. */
function humanReporter(stderr: BuildIo['stderr']): (event: BuildEvent) => void {
  let lastLine = 0;
  let open = false;
  const endLine = (): void => {
    if (open) {
      stderr.write('\n');
      open = false;
    }
  };
  const names: Record<BuildPhase, string> = {
    'checking-cache': 'Checking the cache',
    pulling: 'Pulling',
    building: 'Building',
    pushing: 'Pushing',
    done: 'Done'
  };
  return event => {
    switch (event.type) {
      case 'phase':
        endLine();
        if (event.phase !== 'done') {
          stderr.write(`${names[event.phase]}…\n`);
        }
        break;
      case 'progress': {
        const now = Date.now();
        const total =
          event.totalBytes > 0 ? ` / ${formatBytes(event.totalBytes)}` : '';
        const entries =
          event.phase === 'building' ? `, ${event.entries} entries` : '';
        const text = `  ${event.phase}: ${formatBytes(event.bytes)}${total}${entries}`;
        if (stderr.isTTY) {
          stderr.write(`\r${text}\x1b[K`);
          open = true;
        } else if (now - lastLine >= 1000 || event.bytes === event.totalBytes) {
          stderr.write(`${text}\n`);
          lastLine = now;
        }
        break;
      }
      case 'log':
        endLine();
        stderr.write(
          event.level === 'warning'
            ? `Warning: ${event.message}\n`
            : `${event.message}\n`
        );
        break;
      case 'result':
      case 'error':
        endLine();
        break;
    }
  };
}

/** Runs `build`; returns the exit code (0 built or found, 1 failed, 2 usage). */
export async function buildCommand(
  args: string[],
  io: BuildIo = { stdout: process.stdout, stderr: process.stderr },
  env: Record<string, string | undefined> = process.env
): Promise<number> {
  const parsed = argsOrExit(BUILD_SPEC, args, io);
  if (typeof parsed === 'number') {
    return parsed;
  }
  const flags = lastValues(parsed.flags);
  if (parsed.positionals.length !== 1) {
    io.stderr.write(
      `reproserver build: give exactly one package.\n${BUILD_USAGE}\n`
    );
    return 2;
  }
  if (flags['no-registry'] !== undefined && flags.registry !== undefined) {
    io.stderr.write(
      'reproserver build: give --registry or --no-registry, not both.\n'
    );
    return 2;
  }
  const json = flags.json !== undefined;
  try {
    const config = loadConfig(
      {
        'docker-socket': flags['docker-socket'],
        registry: flags.registry
      },
      env
    );
    const options: BuildOptions = {
      dockerSocket: config.dockerSocket,
      registry:
        flags['no-registry'] !== undefined ? undefined : config.registry,
      repository: flags.repository,
      baseImage: flags['base-image'],
      onEvent: json
        ? event => io.stderr.write(`${JSON.stringify(event)}\n`)
        : humanReporter(io.stderr)
    };
    // Loaded now: the Docker client behind it is most of this command's start-up time.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { buildImage } = require('../build') as typeof BuildModule;
    const result = await buildImage(parsed.positionals[0], options);
    io.stdout.write(
      json ? `${JSON.stringify(result, null, 2)}\n` : `${result.image}\n`
    );
    return 0;
  } catch (error) {
    io.stderr.write(`${errorMessage(error)}\n`);
    return 1;
  }
}
