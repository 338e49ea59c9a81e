/**
 * `reproserver run PACKAGE --out DIR [edits…]`: runs a package with the user's edits, prints the
 * experiment's log live (its stdout to stdout, its stderr to stderr, our own lines to stderr),
 * writes the outputs and `run.json` into DIR, and exits 0 only when every selected step succeeded.
 */
import {
  access,
  constants,
  mkdir,
  readdir,
  stat,
  writeFile
} from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join, resolve } from 'node:path';
// The backends' modules (Docker's client, the sandbox runner, the image builder) are loaded once
// the backend is chosen: parsing, `--help` and a mistake in the edits need none of them.
import type { RunBackendOptions } from '../backends/common/run-backend';
import type { runOnDocker } from '../backends/docker/runner';
import type Docker from 'dockerode';
import type * as HelperPathModule from '../backends/docker/helper-path';
import type * as DockerRunnerModule from '../backends/docker/runner';
import type * as SandboxRunnerModule from '../backends/sandbox/runner';
import type * as SandboxModule from '../sandbox';
import type * as RunImageModule from './run-image';
import { pingDocker } from '../backends/docker/ping';
import { sandboxIsolation } from '../backends/detect';
import { consentSentence, needsConsent } from '../backends/exposure';
import { detectSandbox } from '../backends/sandbox/detect';
import { loadConfig } from '../config';
import { preparePrivateStateDir } from '../store/private-state';
import { isRpzError } from '../rpz/errors';
import { PackageReader, readerOptionsOf } from '../rpz/worker';
import { applyRunEvent, startSummary, stepRecord } from '../runs/summary';
import { DirectorySink, HashingCounter } from '../runs/output-sink';
import { runDefaults } from '../runs/default-limits';
import { planRun, type InputPlacement } from '../runs/plan';
import { argsOrExit, lastValues } from './args';
import { editsFromFlags } from './run-flags';
import { RUN_SPEC, RUN_USAGE } from './usage';
import { errorMessage } from '../describe';

export { RUN_USAGE };

/**
 * Why a sandbox run must not start without `--allow-weak-isolation` (the sandbox here isolates
 * less than files + network), or null; said once on stderr when the flag lets it start.
 */
async function weakIsolationRefusal(allowed: boolean): Promise<string | null> {
  const sandbox = await detectSandbox();
  if (!sandbox.available) {
    return null;
  }
  const isolation = await sandboxIsolation(sandbox);
  if (!needsConsent(isolation)) {
    return null;
  }
  const sentence = consentSentence('sandbox', isolation);
  if (allowed) {
    console.error(`[reproserver] warning: ${sentence}`);
    return null;
  }
  return `${sentence} Run it only if you trust this package, with --allow-weak-isolation; or use Docker.`;
}

/** Exit codes: 0 all steps succeeded, 1 the experiment did not succeed, 2 bad usage or edits. */
export async function runCommand(args: string[]): Promise<number> {
  const parsed = argsOrExit(RUN_SPEC, args);
  if (typeof parsed === 'number') {
    return parsed;
  }
  const { positionals, flags } = parsed;
  const options = lastValues(flags);
  if (positionals.length !== 1 || !options.out) {
    console.error(`Usage: ${RUN_USAGE}`);
    return 2;
  }
  const requested = options.backend ?? 'auto';
  if (!['auto', 'docker', 'sandbox'].includes(requested)) {
    console.error(
      `reproserver: unknown backend "${requested}"; use --backend auto, docker or sandbox.`
    );
    return 2;
  }
  const packagePath = resolve(positionals[0]);
  const outDir = resolve(options.out);
  const config = loadConfig(options);

  let model;
  // Read in a reader process (deadline, memory cap), like the server does.
  const reader = new PackageReader({
    ...readerOptionsOf(config),
    processes: 1
  });
  try {
    model = await reader.readPackage(packagePath);
  } catch (error) {
    console.error(
      isRpzError(error)
        ? error.message
        : `Cannot read ${packagePath}: ${String(error)}`
    );
    return 2;
  } finally {
    reader.close();
  }
  let plan;
  let edits;
  try {
    edits = editsFromFlags(model, flags);
    plan = planRun(model, edits, runDefaults());
    await checkInputsReadable(plan.inputs);
    await checkOutDir(outDir);
  } catch (error) {
    console.error(`reproserver: ${errorMessage(error)}`);
    return 2;
  }

  // auto: Docker when a daemon answers, else the sandbox.
  let backend: 'docker' | 'sandbox' = 'sandbox';
  if (requested !== 'sandbox') {
    const ping = await pingDocker(config.dockerSocket);
    if (ping.ok) {
      backend = 'docker';
    } else if (requested === 'docker') {
      console.error(
        `reproserver: Docker is unavailable: ${ping.reason}. Start the Docker Engine, or pass --docker-socket.`
      );
      return 1;
    } else {
      console.error(
        `[reproserver] Docker is unavailable (${ping.reason}); using the sandbox`
      );
    }
  }
  if (backend === 'sandbox') {
    const refusal = await weakIsolationRefusal(
      options['allow-weak-isolation'] === 'true'
    );
    if (refusal) {
      console.error(`reproserver: ${refusal}`);
      return 2;
    }
  }
  const started = new Date();
  let image: string | null = null;
  let prepare: () => Promise<
    (common: RunBackendOptions) => ReturnType<typeof runOnDocker>
  >;
  if (backend === 'docker') {
    prepare = async () => {
      /* eslint-disable @typescript-eslint/no-require-imports */
      const DockerClient = require('dockerode') as typeof Docker;
      const { helperPath } =
        require('../backends/docker/helper-path') as typeof HelperPathModule;
      const { runOnDocker } =
        require('../backends/docker/runner') as typeof DockerRunnerModule;
      const { ensureImageForRun } =
        require('./run-image') as typeof RunImageModule;
      /* eslint-enable @typescript-eslint/no-require-imports */
      const docker = new DockerClient({ socketPath: config.dockerSocket });
      const ref = await ensureImageForRun(
        packagePath,
        model,
        config,
        options.image
      );
      image = ref;
      return common =>
        runOnDocker({
          ...common,
          docker,
          image: ref,
          helperPath: helperPath()
        });
    };
  } else {
    prepare = async () => {
      /* eslint-disable @typescript-eslint/no-require-imports */
      const { runOnSandbox } =
        require('../backends/sandbox/runner') as typeof SandboxRunnerModule;
      const { prepareRootfs } = require('../sandbox') as typeof SandboxModule;
      /* eslint-enable @typescript-eslint/no-require-imports */
      const sandbox = await detectSandbox();
      if (!sandbox.available) {
        throw new Error(sandbox.detail);
      }
      console.error(`[reproserver] ${sandbox.detail}`);
      preparePrivateStateDir(config.stateDir);
      const rootfs = await prepareRootfs(packagePath, {
        stateDir: config.stateDir,
        reader,
        sha256: model.sha256 ?? undefined,
        onWarning: message => console.error(`[reproserver] warning: ${message}`)
      });
      if (!rootfs.reused) {
        console.error(
          `[reproserver] unpacked ${rootfs.info.entries} files in ${(rootfs.info.extractMs / 1000).toFixed(1)} s`
        );
      }
      return common =>
        runOnSandbox({ ...common, rootfs, stateDir: config.stateDir });
    };
  }
  let execute: (common: RunBackendOptions) => ReturnType<typeof runOnDocker>;
  try {
    execute = await prepare();
  } catch (error) {
    console.error(`reproserver: ${errorMessage(error)}`);
    return 1;
  }

  await mkdir(outDir, { recursive: true });
  // What the events add up to, as the server keeps it (`runs/summary.ts`).
  let summary = startSummary('running', plan.steps);
  const inputHashes: {
    name: string;
    path: string;
    source: string;
    size: number;
    sha256: string;
  }[] = [];
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const result = await execute({
    plan,
    sink: new DirectorySink(outDir),
    signal: abort.signal,
    openInput: async input => {
      const source = input.source.kind === 'file' ? input.source.path : '';
      const info = await stat(source);
      const counter = new HashingCounter();
      counter.on('end', () =>
        inputHashes.push({
          name: input.name,
          path: input.path,
          source,
          size: counter.size,
          sha256: counter.digest()
        })
      );
      return { body: createReadStream(source).pipe(counter), size: info.size };
    },
    onEvent: event => {
      summary = applyRunEvent(summary, event);
      switch (event.type) {
        case 'log':
          (event.stream === 'stdout' ? process.stdout : process.stderr).write(
            event.text
          );
          break;
        case 'step-start':
          console.error(
            `[reproserver] step ${event.step} (${event.id}) started`
          );
          break;
        case 'step-end':
          console.error(
            `[reproserver] step ${event.step} exited with code ${event.exitCode} after ${(event.durationMs / 1000).toFixed(1)} s`
          );
          break;
        case 'log-truncated':
          console.error(
            `[reproserver] the log reached ${event.limitBytes} bytes; the rest is not kept`
          );
          break;
        case 'output-missing':
          console.error(
            `[reproserver] output ${event.name} (${event.path}) is missing: ${event.reason}`
          );
          break;
        case 'end':
          console.error(
            `[reproserver] ${event.status}${event.reason ? `: ${event.reason}` : ''}`
          );
          break;
      }
    }
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);

  const record = {
    package: { path: packagePath, sha256: model.sha256 },
    image,
    backend,
    status: result.status,
    reason: result.reason ?? null,
    failedStep: result.failedStep ?? null,
    startedAt: started.toISOString(),
    endedAt: new Date().toISOString(),
    edits,
    steps: summary.steps.map(stepRecord),
    inputs: inputHashes,
    outputs: summary.outputs.map(({ name, path, kind, size, sha256 }) => ({
      name,
      path,
      kind,
      size,
      sha256,
      file: kind === 'declared' ? name : join('changed', path)
    })),
    missingOutputs: summary.missing
  };
  await writeFile(
    join(outDir, 'run.json'),
    JSON.stringify(record, null, 2) + '\n'
  );
  return result.status === 'succeeded' ? 0 : 1;
}

async function checkInputsReadable(inputs: InputPlacement[]): Promise<void> {
  for (const input of inputs) {
    const path = input.source.kind === 'file' ? input.source.path : '';
    try {
      await access(path, constants.R_OK);
      if (!(await stat(path)).isFile()) {
        throw new Error('not a file');
      }
    } catch {
      throw new Error(
        `The file for input "${input.name}" cannot be read: ${path}`
      );
    }
  }
}

/** Outputs never overwrite anything: DIR must be new or empty. */
async function checkOutDir(dir: string): Promise<void> {
  try {
    const entries = await readdir(dir);
    if (entries.length > 0) {
      throw new Error(
        `The output folder ${dir} is not empty; choose a new one.`
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw error;
    }
  }
}
