/**
 * `reproserver run PACKAGE --out DIR [edits…]`: runs a package with the user's edits, prints the
 * experiment's log live (its stdout to stdout, its stderr to stderr, our own lines to stderr),
 * writes the outputs and `run.json` into DIR, and exits 0 only when every selected step succeeded.
 *
 * A thin client of the server's own services, in this process: the package is registered with
 * `PackageService`, the run created, executed and recorded by `RunService` (the same backend
 * choice, isolation consent, image, steps and records as a run started from the panel), its
 * events followed from its log, and its outputs copied from the blob store into DIR. The records,
 * blobs and log live in a private temporary folder removed at the end, or in `--state DIR` when
 * given (kept, as `reproserver serve --state DIR` keeps them).
 */
import { createReadStream } from 'node:fs';
import { access, constants, mkdir, stat } from 'node:fs/promises';
import type { RunRecord as WireRun } from '../contract/wire';
import type { BlobStore } from '../store/blob-store';
import { errorMessage } from '../describe';
import { runDefaults } from '../runs/default-limits';
import type { RunEdits } from '../runs/edits';
import { planRun, type InputPlacement } from '../runs/plan';
import { argsOrExit } from './args';
import {
  checkOutDir,
  commonOptions,
  localRunService,
  refused,
  registerLocalPackage,
  sayWhereRunsGo,
  unpackedLine,
  withLocalSession,
  type CommonOptions,
  type LocalSession
} from './local-services';
import {
  checkRunFilePackage,
  editsOverRunFile,
  readHostRunFile,
  RUN_FILE_EXTENSION,
  type HostRunFile
} from './run-file';
import { editsFromFlags } from './run-flags';
import { writeRunFolder, type StoredInput } from './run-folder';
import { HeldLines, printEvent } from './run-print';
import { RUN_SPEC, RUN_USAGE } from './usage';

export { RUN_USAGE };

/** Exit codes: 0 all steps succeeded, 1 the experiment did not succeed, 2 bad usage or edits. */
export async function runCommand(args: string[]): Promise<number> {
  const parsed = argsOrExit(RUN_SPEC, args);
  if (typeof parsed === 'number') {
    return parsed;
  }
  const options = commonOptions(parsed.positionals, parsed.flags, RUN_USAGE);
  if (typeof options === 'number') {
    return options;
  }
  return withLocalSession(options, 'reproserver-run-', session =>
    runInSession(session, options, parsed.flags)
  );
}

async function runInSession(
  session: LocalSession,
  options: CommonOptions,
  flags: Record<string, string[]>
): Promise<number> {
  const { store } = session;
  const { outDir } = options;
  let packagePath = options.packagePath;
  // A run file names the package and configures the run; the flags change what it opens.
  let runFile: HostRunFile | undefined;
  if (packagePath.endsWith(RUN_FILE_EXTENSION)) {
    try {
      runFile = await readHostRunFile(packagePath);
    } catch (error) {
      console.error(`reproserver: ${errorMessage(error)}`);
      return 2;
    }
    packagePath = runFile.packagePath;
  }
  const pkg = await registerLocalPackage(session, packagePath);
  if (typeof pkg === 'number') {
    return pkg;
  }
  const { model } = pkg;
  let edits: RunEdits;
  let inputs: StoredInput[];
  try {
    edits = editsFromFlags(model, flags);
    if (runFile) {
      checkRunFilePackage(runFile, model.sha256);
      edits = editsOverRunFile(runFile, edits);
    }
    const plan = planRun(model, edits, runDefaults());
    await checkInputsReadable(plan.inputs);
    await checkOutDir(outDir);
    inputs = await storeInputs(plan.inputs, store.blobs);
  } catch (error) {
    console.error(`reproserver: ${errorMessage(error)}`);
    return 2;
  }

  // Said by the sandbox's unpacking, which may start before we say where the run goes.
  const notices = new HeldLines();
  const runs = localRunService(session, pkg, {
    image: options.image,
    concurrency: 1,
    sandboxNotices: {
      warning: message => notices.say(`[reproserver] warning: ${message}`),
      prepared: rootfs => {
        const line = unpackedLine(rootfs);
        if (line !== null) {
          notices.say(line);
        }
      }
    }
  });
  const started = new Date();
  let run: WireRun;
  try {
    run = await runs.create({
      package: pkg.sha256,
      backend: options.requested,
      acceptWeakIsolation: options.allowWeak,
      edits: {
        ...edits,
        ...(inputs.length > 0 && {
          inputs: inputs.map(({ name, sha256 }) => ({
            name,
            source: { kind: 'blob' as const, sha256 }
          }))
        })
      }
    });
  } catch (error) {
    return refused(error, options.requested);
  }
  await sayWhereRunsGo(session, run.backend, options.requested);
  notices.release();

  await mkdir(outDir, { recursive: true });
  const abort = new AbortController();
  const onSignal = (): void => void runs.cancel(run.id).catch(() => undefined);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await store.logs.follow(run.id, 0, printEvent, abort.signal);
    await runs.idle();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  run = runs.get(run.id);
  await writeRunFolder(outDir, run, store.blobs, {
    package: { path: packagePath, sha256: model.sha256 },
    startedAt: started,
    endedAt: new Date(),
    edits,
    inputs
  });
  return run.status === 'succeeded' ? 0 : 1;
}

/** Stores the --input files as blobs (the run reads them from there), hashed for run.json. */
async function storeInputs(
  placements: InputPlacement[],
  blobs: BlobStore
): Promise<StoredInput[]> {
  const stored: StoredInput[] = [];
  for (const input of placements) {
    const source = input.source.kind === 'file' ? input.source.path : '';
    const { sha256, size } = await blobs.put(createReadStream(source));
    stored.push({ name: input.name, path: input.path, source, size, sha256 });
  }
  return stored;
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
