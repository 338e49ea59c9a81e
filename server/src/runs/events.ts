/**
 * A run is a sequence of events; the run's log on disk, the WebSocket stream, the CLI's output and
 * the panel are all projections of it. Wire types: plain JSON.
 */

import type { BuildEvent } from '../build/events';

/** How a run ended, or where it is. */
export type RunStatus =
  | 'queued'
  | 'building'
  | 'running'
  | 'succeeded'
  /** A step exited non-zero (or was killed by a signal it did not get from us). */
  | 'failed'
  | 'timed-out'
  | 'out-of-memory'
  | 'cancelled'
  /** Our side failed (Docker, storage…); `reason` says how. */
  | 'error'
  /** The server stopped during the run and the run could not be recovered. */
  | 'interrupted';

/** Every status, in the order a run goes through them (the API document lists them). */
export const RUN_STATUSES: readonly RunStatus[] = [
  'queued',
  'building',
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'out-of-memory',
  'cancelled',
  'error',
  'interrupted'
];

export const FINAL_STATUSES: readonly RunStatus[] = [
  'succeeded',
  'failed',
  'timed-out',
  'out-of-memory',
  'cancelled',
  'error',
  'interrupted'
];

/** Milliseconds since the epoch. */
type Time = number;

/** A declared output of the package, or a file the run created or changed elsewhere. */
export type OutputKind = 'declared' | 'changed';

/** A collected output: which file, and its stored bytes. */
export interface OutputFile {
  /** Declared output name, or the path for a changed file. */
  name: string;
  path: string;
  kind: OutputKind;
  size: number;
  sha256: string;
}

/** Owner and permission bits of a file in the experiment's filesystem. */
export interface FileOwner {
  uid: number;
  gid: number;
  mode: number;
}

export type RunEvent =
  | { type: 'status'; time: Time; status: RunStatus; detail?: string }
  /** Progress of the package's image, while the run waits for it. */
  | { type: 'build'; time: Time; build: BuildEvent }
  | { type: 'step-start'; time: Time; step: number; id: string; argv: string[] }
  | {
      type: 'log';
      time: Time;
      step: number;
      stream: 'stdout' | 'stderr';
      /** UTF-8 text; a multi-byte character is never split between two events. */
      text: string;
    }
  /** The log reached its size limit; later output is not kept. */
  | { type: 'log-truncated'; time: Time; step: number; limitBytes: number }
  | {
      type: 'step-end';
      time: Time;
      step: number;
      /** Exit code; 128 + N when killed by signal N. */
      exitCode: number;
      durationMs: number;
    }
  | ({ type: 'output'; time: Time } & OutputFile & FileOwner)
  | {
      type: 'output-missing';
      time: Time;
      name: string;
      path: string;
      reason: string;
    }
  | {
      type: 'end';
      time: Time;
      status: RunStatus;
      /** The plan position of the step that failed, when one did. */
      failedStep?: number;
      reason?: string;
    };
