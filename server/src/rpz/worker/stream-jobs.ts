/**
 * The stream jobs of a reader process (child side): each walks a package's data and writes bytes
 * to `out` (the pipe the server reads on the reader's fd 3), reporting its counters through
 * `context.progress` and its warnings through `context.warning`. The job resolves with its final
 * counters once every byte is written; a failure rejects with the reader's `RpzError`. A new job
 * is a new `case` below (the sandbox extraction would write files instead of bytes, and send its
 * counters the same way).
 */
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { rootfsTar } from '../../build/rootfs-tar';
import { extractEntries, type ExtractSummary } from '../../sandbox/extract';
import { readEntries } from '../entries';
import type { StreamProgress, StreamResults, StreamTask } from './protocol';

export interface StreamJobContext {
  /** Where the job writes its bytes; ended by the job when it succeeds. */
  out: Writable & { bytesWritten?: number };
  /** Gives the job's live counters to be sampled (call once, at the start). */
  progress(read: () => StreamProgress): void;
  warning(message: string): void;
}

export async function performStream(
  task: StreamTask,
  context: StreamJobContext
): Promise<StreamResults[StreamTask['kind']]> {
  switch (task.kind) {
    case 'rootfs-tar':
      return rootfsTarJob(task, context);
    case 'extract':
      return extractJob(task, context);
  }
}

async function rootfsTarJob(
  task: StreamTask & { kind: 'rootfs-tar' },
  { out, progress, warning }: StreamJobContext
): Promise<StreamProgress> {
  const entries = readEntries(task.path, { onWarning: warning });
  const counters = (): StreamProgress => ({
    ...entries.progress,
    bytesOut: out.bytesWritten ?? 0
  });
  progress(counters);
  const rootfs = rootfsTar(entries, {
    prefix: task.prefix,
    onWarning: warning
  });
  // The output ends when the tar does (after its last block, not when writing stopped).
  rootfs.tar.pipe(out);
  // A failure reaches the server through `done` (as the reply); an 'error' event without a
  // listener would crash this process instead.
  rootfs.tar.on('error', () => undefined);
  // The server closing the pipe (the engine gave up) stops the walk too.
  const written = finished(out);
  written.catch(() => rootfs.abort());
  await Promise.race([rootfs.done, written]);
  // Every byte reaches the pipe before the job says it succeeded: the server ends the stream it
  // hands on only then, so a damaged package never looks like a complete archive downstream.
  await written;
  return counters();
}

/** The sandbox's first-run extraction: the tree goes to disk, only the counters come back. */
async function extractJob(
  task: StreamTask & { kind: 'extract' },
  { out, progress, warning }: StreamJobContext
): Promise<ExtractSummary> {
  out.end();
  const entries = readEntries(task.path, { onWarning: warning });
  progress(() => ({ ...entries.progress, bytesOut: 0 }));
  return extractEntries(entries, task.root, {
    minFreeBytes: task.minFreeBytes,
    onWarning: warning
  });
}
