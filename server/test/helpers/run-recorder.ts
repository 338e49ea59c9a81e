import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunResult } from '../../src/backends/common/run-backend';
import { readPackage } from '../../src/rpz';
import type { PackageModel } from '../../src/rpz/model';
import type { RunEdits } from '../../src/runs/edits';
import type { RunEvent } from '../../src/runs/events';
import { DirectorySink } from '../../src/runs/output-sink';
import { planRun, type RunPlan } from '../../src/runs/plan';

/** What a test may hand any backend's run: a way to cancel it, and a listener for its events. */
export interface RunOptions {
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
}

/** A finished run as the tests look at it, whatever backend ran it. */
export interface FinishedRun {
  result: RunResult;
  events: RunEvent[];
  outDir: string;
  stdout: string;
  stderr: string;
  model: PackageModel;
}

/**
 * Plans a package's run and hands the plan, an output folder and an event recorder to `execute`
 * (one backend's call), then gathers what the run said.
 */
export async function recordRun(
  rpz: string,
  edits: RunEdits,
  onEvent: ((event: RunEvent) => void) | undefined,
  execute: (common: {
    plan: RunPlan;
    sink: DirectorySink;
    onEvent: (event: RunEvent) => void;
  }) => Promise<RunResult>
): Promise<FinishedRun> {
  const model = await readPackage(rpz);
  const plan = planRun(model, edits);
  const outDir = mkdtempSync(join(tmpdir(), 'reproserver-out-'));
  const events: RunEvent[] = [];
  const result = await execute({
    plan,
    sink: new DirectorySink(outDir),
    onEvent: event => {
      events.push(event);
      onEvent?.(event);
    }
  });
  const text = (stream: 'stdout' | 'stderr'): string =>
    events
      .filter(
        (e): e is Extract<RunEvent, { type: 'log' }> =>
          e.type === 'log' && e.stream === stream
      )
      .map(e => e.text)
      .join('');
  return {
    result,
    events,
    outDir,
    stdout: text('stdout'),
    stderr: text('stderr'),
    model
  };
}

/** The outputs a run stored. */
export function outputsOf(
  run: FinishedRun
): Extract<RunEvent, { type: 'output' }>[] {
  return run.events.filter(
    (e): e is Extract<RunEvent, { type: 'output' }> => e.type === 'output'
  );
}
