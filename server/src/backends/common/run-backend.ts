/**
 * What every run backend (Docker, sandbox) takes and returns: the same plan, the same events, the
 * same output sink, the same statuses. Backend-specific options extend `RunBackendOptions`.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { RunEvent, RunStatus } from '../../runs/events';
import type { OutputSink } from '../../runs/output-sink';
import type { InputPlacement, RunPlan } from '../../runs/plan';

export interface RunBackendOptions {
  plan: RunPlan;
  sink: OutputSink;
  onEvent: (event: RunEvent) => void;
  /** Aborting cancels the run, whatever it is doing. */
  signal?: AbortSignal;
  /** Opens a replacement input; the default reads `{ kind: 'file' }` sources from disk. */
  openInput?: (
    input: InputPlacement
  ) => Promise<{ body: Readable; size: number }>;
}

export interface RunResult {
  status: RunStatus;
  failedStep?: number;
  reason?: string;
}

/** The default `openInput`: a file on this host. */
export async function openFileInput(
  input: InputPlacement
): Promise<{ body: Readable; size: number }> {
  if (input.source.kind !== 'file') {
    throw new Error(`The input "${input.name}" is not a file on this host.`);
  }
  const info = await stat(input.source.path);
  return { body: createReadStream(input.source.path), size: info.size };
}
