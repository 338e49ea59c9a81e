/**
 * How a run ends, in the same words whatever the backend: a step that failed or ran out of
 * memory, a run stopped by its time limit or by the user.
 */
import type { RunPlan } from '../../runs/plan';
import type { RunResult } from './run-backend';

/** A step exited non-zero: out of memory when the backend saw the kernel kill it for that. */
export function stepFailed(
  plan: RunPlan,
  position: number,
  exitCode: number,
  outOfMemory: boolean
): RunResult {
  const step = `Step ${position} (${plan.steps[position].id})`;
  return outOfMemory
    ? {
        status: 'out-of-memory',
        failedStep: position,
        reason: `${step} ran out of memory (limit ${plan.limits.memoryMiB} MiB).`
      }
    : {
        status: 'failed',
        failedStep: position,
        reason: `${step} exited with code ${exitCode}.`
      };
}

/** The run was stopped from outside while `position` was running. */
export function stoppedBy(
  ending: 'timed-out' | 'cancelled',
  plan: RunPlan,
  position: number
): RunResult {
  return {
    status: ending,
    failedStep: position,
    reason:
      ending === 'timed-out'
        ? `The run exceeded its time limit of ${plan.limits.timeoutSeconds} s.`
        : 'The run was cancelled.'
  };
}

/**
 * Why a run was stopped from outside its steps: its time limit, the user, or a limit a backend
 * watches itself (a sentence: "The run used more than its disk limit…").
 */
export type Ending = 'timed-out' | 'cancelled' | { reason: string };

/** The result of a run stopped for `ending` while step `position` ran (or was about to). */
export function stoppedFor(
  ending: Ending,
  plan: RunPlan,
  position: number
): RunResult {
  return typeof ending === 'string'
    ? stoppedBy(ending, plan, position)
    : { status: 'failed', failedStep: position, reason: ending.reason };
}
