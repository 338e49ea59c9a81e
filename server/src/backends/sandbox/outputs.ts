/**
 * What goes in and out of a sandbox run's tree: replacement inputs placed before their step, and
 * the outputs (declared, then every other changed file) stored through the sink with the owners
 * the run gave them.
 */
import type { Stats } from 'node:fs';
import type { OutputKind, RunEvent } from '../../runs/events';
import type { OutputSink } from '../../runs/output-sink';
import type { InputPlacement, RunPlan } from '../../runs/plan';
import type { PreparedRootfs } from '../../sandbox';
import { OutputCollector } from '../common/output-collector';
import {
  existsInRoot,
  openRegularFile,
  placeFile,
  type FoundFiles
} from './run-tree';
import type { OwnerOf } from './identity';
import type { RunUser } from './run-user';

/** Writes one replacement input into the run's tree, as the run's user when it has one. */
export async function placeInput(
  root: string,
  input: InputPlacement,
  open: (input: InputPlacement) => Promise<{ body: NodeJS.ReadableStream }>,
  owner: RunUser | undefined
): Promise<void> {
  const { body } = await open(input);
  await placeFile(
    root,
    input.path,
    input.mode,
    async file => {
      for await (const chunk of body) {
        await file.write(chunk as Buffer);
      }
    },
    owner
  );
}

/** Copies the declared outputs, then every other file the run created or changed. */
export async function collectOutputs(
  root: string,
  rootfs: Pick<PreparedRootfs, 'root' | 'info'>,
  plan: RunPlan,
  changed: FoundFiles,
  stepStarts: { time: number; uid: number; gid: number }[],
  sink: OutputSink,
  onEvent: (event: RunEvent) => void,
  mappedOwners?: OwnerOf,
  emulatedOwners?: Map<string, [number, number]>
): Promise<void> {
  const outputs = new OutputCollector(plan, sink, onEvent);
  const owners = rootfs.info.owners;
  const ownerOf = (
    path: string,
    inCache: boolean,
    info: Stats
  ): { uid: number; gid: number } => {
    if (mappedOwners) {
      // Real owners in the run's namespace.
      const [uid, gid] = mappedOwners(path.slice(1), info);
      return { uid, gid };
    }
    // What the emulated ids own, as the supervisor reported it.
    const emulated = emulatedOwners?.get(path.slice(1));
    if (emulated) {
      return { uid: emulated[0], gid: emulated[1] };
    }
    const recorded = owners.others[path.slice(1)];
    if (inCache || recorded) {
      const [uid, gid] = recorded ?? owners.common;
      return { uid, gid };
    }
    // A new file: it belongs to the step that was running when it was last written.
    let writer = stepStarts[0];
    for (const start of stepStarts) {
      if (start.time <= info.mtimeMs + 10) {
        writer = start;
      }
    }
    return writer
      ? { uid: writer.uid, gid: writer.gid }
      : { uid: owners.common[0], gid: owners.common[1] };
  };
  const copy = async (
    name: string,
    path: string,
    kind: OutputKind
  ): Promise<void> => {
    const opened = await openRegularFile(root, path);
    if (opened === 'missing') {
      outputs.notCreated(name, path);
      return;
    }
    if (opened === 'not-a-file') {
      outputs.notAFile(name, path, kind);
      return;
    }
    if (opened === 'unreadable') {
      outputs.notReadable(name, path);
      return;
    }
    const { file, info } = opened;
    if (!outputs.fits(name, path, info.size)) {
      await file.close();
      return;
    }
    // The stream closes the file when it ends or is destroyed.
    await outputs.store(
      name,
      path,
      kind,
      file.createReadStream(),
      async () => ({
        ...ownerOf(path, await existsInRoot(rootfs.root, path), info),
        mode: info.mode & 0o7777
      })
    );
  };

  for (const output of plan.outputs) {
    await copy(output.name, output.path, 'declared');
  }
  for (const { path } of changed.files) {
    if (!outputs.declaredPaths.has(path)) {
      await copy(path, path, 'changed');
    }
  }
  if (changed.more > 0) {
    onEvent({
      type: 'output-missing',
      time: Date.now(),
      name: 'other changed files',
      path: '/',
      reason: `The run changed ${changed.more.toLocaleString('en')} more files than the ${changed.files.length.toLocaleString('en')} that are collected; they were not kept.`
    });
  }
}
