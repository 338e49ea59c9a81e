/**
 * The one lifecycle of a run, whatever the backend: prepare → for each step (its inputs, its
 * start, its output through the log budget, its end; stop on a failure, a cancel, the time limit
 * or a backend's own limit) → collect outputs → end event → cleanup. Docker (`docker/runner.ts`)
 * and the sandbox (`sandbox/runner.ts`) only supply the parts that differ (`RunParts`), so both
 * say the same events in the same order, end with the same statuses, and always clean up.
 */
import type { Writable } from 'node:stream';
import { errorMessage } from '../../describe';
import type { InputPlacement, StepPlan } from '../../runs/plan';
import { stoppedFor, type Ending } from './endings';
import { LogBudget } from './log-budget';
import type { RunBackendOptions, RunResult } from './run-backend';

/** What `prepare` made of the run: ready to run its steps, or already ended. */
export type Prepared =
  | {
      ready: true;
      /** Said with the `running` status (what runs it, how isolated). */
      detail?: string;
      /** When the run's time limit started (a run re-attached after a restart); default now. */
      startedAt?: number;
    }
  | { ready: false; result: RunResult };

/** A step that exited: its exit code (128 + N when killed by signal N), and the backend's facts. */
export interface StepExit {
  exitCode: number;
}

/** A step that ended without an exit code: the backend says how the run ends. */
export interface StepLost {
  lost: RunResult;
}

/** What a backend's `runStep` gets. */
export interface StepRun {
  position: number;
  step: StepPlan;
  /** Where the step's output goes (through the run's log budget). */
  stdout: Writable;
  stderr: Writable;
  /** Bytes the log may still keep. */
  logRoom: number;
  /** Aborted when the run is stopped from outside (cancel, time limit, a backend's limit). */
  stop: AbortSignal;
}

/** What stops a run from outside while it runs (a limit the backend watches, like disk use). */
export interface Watcher {
  stop(): void | Promise<void>;
}

export interface RunParts<Exit extends StepExit = StepExit> {
  /** Names the backend in an unexpected failure: "<name> failed: …". */
  name: string;
  /** Sets up what the run runs in (a container, a tree). */
  prepare(): Promise<Prepared>;
  /** Starts watching the backend's own limits once the run runs; `kill` stops the run. */
  watch(kill: (ending: Ending) => void): Watcher | undefined;
  /** Places the replacement inputs read from step `position` on, before it runs. */
  placeInputs(position: number, inputs: InputPlacement[]): Promise<void>;
  /** Runs (or follows) one step to its end. */
  runStep(run: StepRun): Promise<Exit | StepLost>;
  /** How the run ends after a step exited non-zero (failed, out of memory, a file too large). */
  stepFailed(position: number, exit: Exit): Promise<RunResult>;
  /** Stores the declared outputs, then the changed files, through the sink. */
  collectOutputs(): Promise<void>;
  /** Stops what runs now, at once: called once, when the run is stopped from outside. */
  interrupt(): void;
  /** Removes everything the run made; runs whatever happened before. */
  cleanup(): Promise<void>;
}

/** Runs the plan through `parts`; always resolves (failures are statuses), always cleans up. */
export async function runLifecycle<Exit extends StepExit>(
  options: Pick<RunBackendOptions, 'plan' | 'onEvent' | 'signal'>,
  parts: RunParts<Exit>
): Promise<RunResult> {
  const { plan, onEvent, signal } = options;
  // Why the run was stopped from outside its steps, the first reason only.
  let ending: Ending | undefined;
  const stop = new AbortController();
  const kill = (why: Ending): void => {
    if (ending !== undefined) {
      return;
    }
    ending = why;
    stop.abort();
    parts.interrupt();
  };
  const onAbort = (): void => kill('cancelled');
  let timer: NodeJS.Timeout | undefined;
  let watcher: Watcher | undefined;
  // The step running (or about to), so that a run stopped while a part throws still names it.
  const reached: StepsReached = {};
  const run = async (): Promise<RunResult> => {
    try {
      if (signal?.aborted) {
        return { status: 'cancelled' };
      }
      signal?.addEventListener('abort', onAbort);
      const prepared = await parts.prepare();
      if (!prepared.ready) {
        return prepared.result;
      }
      if (ending === 'timed-out' || ending === 'cancelled') {
        return { status: ending };
      }
      onEvent({
        type: 'status',
        time: Date.now(),
        status: 'running',
        ...(prepared.detail ? { detail: prepared.detail } : {})
      });
      const startedAt = prepared.startedAt ?? Date.now();
      timer = setTimeout(
        () => kill('timed-out'),
        Math.max(0, startedAt + plan.limits.timeoutSeconds * 1000 - Date.now())
      );
      watcher = parts.watch(kill);
      const result = await runSteps(
        options,
        parts,
        stop.signal,
        () => ending,
        reached
      );
      clearTimeout(timer);
      await watcher?.stop();
      if (result.status !== 'cancelled' && result.status !== 'error') {
        await parts.collectOutputs();
      }
      return result;
    } catch (error) {
      // A part may throw because it was interrupted (a killed container's wait, say): the run
      // ends for why it was stopped, not in error.
      if (ending !== undefined && reached.position !== undefined) {
        return stoppedFor(ending, plan, reached.position);
      }
      return ending === 'timed-out' || ending === 'cancelled'
        ? { status: ending }
        : {
            status: 'error',
            reason: `${parts.name} failed: ${failureMessage(error)}`
          };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // Whatever failed before, and even if a part fails here, the rest is still cleaned up.
      await quietly(() => watcher?.stop());
      await quietly(() => parts.cleanup());
    }
  };
  const result = await run();
  onEvent({ type: 'end', time: Date.now(), ...result });
  return result;
}

/** Where the steps got to: the position of the step running or about to, once there is one. */
interface StepsReached {
  position?: number;
}

/** Each step in turn, until one fails or the run is stopped; the result names where it ended. */
async function runSteps<Exit extends StepExit>(
  options: Pick<RunBackendOptions, 'plan' | 'onEvent'>,
  parts: RunParts<Exit>,
  stop: AbortSignal,
  ending: () => Ending | undefined,
  reached: StepsReached
): Promise<RunResult> {
  const { plan, onEvent } = options;
  const log = new LogBudget(plan.limits.logBytes, onEvent);
  for (let position = 0; position < plan.steps.length; position++) {
    reached.position = position;
    const step = plan.steps[position];
    await parts.placeInputs(
      position,
      plan.inputs.filter(input => input.beforeStep === position)
    );
    const before = ending();
    if (before) {
      return stoppedFor(before, plan, position);
    }
    const started = Date.now();
    onEvent({
      type: 'step-start',
      time: started,
      step: position,
      id: step.id,
      argv: step.argv
    });
    const stdout = log.pump(position, 'stdout');
    const stderr = log.pump(position, 'stderr');
    const end = await parts.runStep({
      position,
      step,
      stdout,
      stderr,
      logRoom: plan.limits.logBytes - log.used,
      stop
    });
    stdout.flush();
    stderr.flush();
    if (!('lost' in end)) {
      onEvent({
        type: 'step-end',
        time: Date.now(),
        step: position,
        exitCode: end.exitCode,
        durationMs: Date.now() - started
      });
    }
    const after = ending();
    if (after) {
      return stoppedFor(after, plan, position);
    }
    if ('lost' in end) {
      return end.lost;
    }
    if (end.exitCode !== 0) {
      return parts.stepFailed(position, end);
    }
  }
  return { status: 'succeeded' };
}

/** Runs `action`, ignoring its failure (thrown or rejected). */
async function quietly(action: () => unknown): Promise<void> {
  try {
    await action();
  } catch {
    // cleaning up goes on
  }
}

/** An unexpected error in a sentence: without Docker's "(HTTP code N)" nor a leading "Error: ". */
export function failureMessage(error: unknown): string {
  return errorMessage(error)
    .replace(/^\(HTTP code \d+\)\s*/, '')
    .replace(/^Error: /, '')
    .trim();
}
