/**
 * What a run's events add up to: where it is, its steps, its outputs, the outputs it could not
 * collect and how it ended. The one reduction of events that the service (its records), the CLI
 * (its run record) and the panel (its run view) share, so that they cannot disagree.
 *
 * Pure: `applyRunEvent` returns a new summary when the event changes it and the same object
 * when it does not (log text never does: callers show or store it themselves), so a caller can
 * tell what changed by identity (`next.steps !== previous.steps`...).
 */
import type { FileOwner, OutputFile, RunEvent, RunStatus } from './events';

export type StepState = 'pending' | 'running' | 'done';

export interface StepSummary {
  index: number;
  id: string;
  argv: string[];
  state: StepState;
  /** Exit code once done; 128 + N when killed by signal N. */
  exitCode: number | null;
  durationMs: number | null;
}

/** A collected output, with the owner and mode the experiment gave it when the backend says. */
export type OutputSummary = OutputFile & Partial<FileOwner>;

export interface MissingOutput {
  name: string;
  path: string;
  reason: string;
}

export interface RunEnding {
  status: RunStatus;
  reason: string | null;
  failedStep: number | null;
  /** Milliseconds since the epoch. */
  time: number;
}

export interface RunSummary {
  status: RunStatus;
  /** What the latest status event added (e.g. which phase of the image build). */
  statusDetail: string | null;
  steps: StepSummary[];
  /** Declared outputs first, then changed files, each name once. */
  outputs: OutputSummary[];
  missing: MissingOutput[];
  end: RunEnding | null;
}

/** The summary before any event: a status, and the steps as planned or recorded. */
export function startSummary(
  status: RunStatus,
  steps: readonly {
    index: number;
    id: string;
    argv: string[];
    exitCode?: number | null;
    durationMs?: number | null;
  }[] = [],
  outputs: readonly OutputSummary[] = [],
  missing: readonly MissingOutput[] = []
): RunSummary {
  return {
    status,
    statusDetail: null,
    steps: steps.map(step => ({
      index: step.index,
      id: step.id,
      argv: step.argv,
      state:
        step.exitCode !== null && step.exitCode !== undefined
          ? 'done'
          : 'pending',
      exitCode: step.exitCode ?? null,
      durationMs: step.durationMs ?? null
    })),
    outputs: [...outputs],
    missing: [...missing],
    end: null
  };
}

/** The summary after `event`. */
export function applyRunEvent(
  summary: RunSummary,
  event: RunEvent
): RunSummary {
  switch (event.type) {
    case 'status':
      return {
        ...summary,
        status: event.status,
        statusDetail: event.detail ?? null
      };
    case 'step-start':
      return {
        ...summary,
        steps: withStep(summary.steps, event.step, {
          id: event.id,
          argv: event.argv,
          state: 'running'
        })
      };
    case 'step-end':
      return {
        ...summary,
        steps: withStep(summary.steps, event.step, {
          state: 'done',
          exitCode: event.exitCode,
          durationMs: event.durationMs
        })
      };
    case 'output': {
      if (summary.outputs.some(output => output.name === event.name)) {
        return summary;
      }
      const output = outputOf(event);
      return {
        ...summary,
        // Stable: declared outputs keep their order, before every changed file.
        outputs: [...summary.outputs, output].sort(
          (a, b) => Number(a.kind === 'changed') - Number(b.kind === 'changed')
        )
      };
    }
    case 'output-missing':
      return {
        ...summary,
        missing: [
          ...summary.missing,
          { name: event.name, path: event.path, reason: event.reason }
        ]
      };
    case 'end':
      return {
        ...summary,
        status: event.status,
        end: {
          status: event.status,
          reason: event.reason ?? null,
          failedStep: event.failedStep ?? null,
          time: event.time
        }
      };
    default:
      // log, log-truncated, build: the summary does not change.
      return summary;
  }
}

/** The output an `output` event reports, with its owner and mode. */
export function outputOf(
  event: Extract<RunEvent, { type: 'output' }>
): OutputFile & FileOwner {
  return {
    name: event.name,
    path: event.path,
    kind: event.kind,
    size: event.size,
    sha256: event.sha256,
    uid: event.uid,
    gid: event.gid,
    mode: event.mode
  };
}

/** Steps a summary fills in when an event names a step it did not know (bounds a bad event). */
const MAX_STEPS = 100_000;

/**
 * The steps with the one at plan position `position` (what events' `step` is) changed; steps the
 * summary did not know are filled in up to it (a view that started without the plan).
 */
function withStep(
  steps: StepSummary[],
  position: number,
  change: Partial<StepSummary>
): StepSummary[] {
  if (!Number.isInteger(position) || position < 0 || position >= MAX_STEPS) {
    return steps;
  }
  const next = [...steps];
  while (next.length <= position) {
    next.push({
      index: next.length,
      id: `run${next.length}`,
      argv: [],
      state: 'pending',
      exitCode: null,
      durationMs: null
    });
  }
  next[position] = { ...next[position], ...change };
  return next;
}

/** A step as the records and the API keep it (without its state). */
export function stepRecord(step: StepSummary): {
  index: number;
  id: string;
  argv: string[];
  exitCode: number | null;
  durationMs: number | null;
} {
  return {
    index: step.index,
    id: step.id,
    argv: step.argv,
    exitCode: step.exitCode,
    durationMs: step.durationMs
  };
}
