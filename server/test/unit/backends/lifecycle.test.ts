import {
  runLifecycle,
  type Prepared,
  type RunParts,
  type StepExit,
  type StepLost,
  type StepRun
} from '../../../src/backends/common/lifecycle';
import type { Ending } from '../../../src/backends/common/endings';
import type { RunEvent } from '../../../src/runs/events';
import type { InputPlacement, RunPlan } from '../../../src/runs/plan';

// The shared lifecycle with a fake backend: what it says, in which order, and that it always
// cleans up.

function makePlan(
  steps: number,
  limits: Partial<RunPlan['limits']> = {}
): RunPlan {
  return {
    steps: Array.from({ length: steps }, (_, index) => ({
      index,
      id: `run${index}`,
      argv: ['prog', String(index)],
      binary: '/bin/prog',
      environ: {},
      workingdir: '/',
      uid: 0,
      gid: 0
    })),
    inputs: [
      {
        name: 'input',
        path: '/in.txt',
        source: { kind: 'file', path: '/host/in.txt' },
        beforeStep: 1,
        uid: 0,
        gid: 0,
        mode: 0o644
      } as InputPlacement
    ],
    outputs: [],
    hostname: 'host',
    limits: {
      memoryMiB: 512,
      cpus: 1,
      pids: 100,
      timeoutSeconds: 60,
      outputBytes: 1024,
      logBytes: 1024,
      diskMiB: 10,
      ...limits
    }
  } as unknown as RunPlan;
}

/** A fake backend that records what the lifecycle asked of it. */
class FakeBackend implements RunParts {
  name = 'The fake';
  calls: string[] = [];
  exitCodes: number[] = [];
  prepared: Prepared = { ready: true, detail: 'fake sandbox' };
  kill: ((ending: Ending) => void) | undefined;
  /** Runs instead of a step's normal end, when set for that step. */
  during = new Map<number, (run: StepRun) => Promise<StepExit | StepLost>>();
  throwIn: string | undefined;

  private step(name: string): void {
    this.calls.push(name);
    if (this.throwIn === name) {
      throw new Error(`${name} broke`);
    }
  }

  async prepare(): Promise<Prepared> {
    this.step('prepare');
    return this.prepared;
  }
  watch(kill: (ending: Ending) => void): { stop(): void } {
    this.kill = kill;
    this.step('watch');
    return { stop: () => this.calls.push('watch-stop') };
  }
  async placeInputs(position: number, inputs: InputPlacement[]): Promise<void> {
    this.step(`inputs ${position}: ${inputs.map(input => input.name).join()}`);
  }
  async runStep(run: StepRun): Promise<StepExit | StepLost> {
    this.step(`run ${run.position}`);
    run.stdout.write(`out ${run.position}\n`);
    const during = this.during.get(run.position);
    if (during) {
      return during(run);
    }
    return { exitCode: this.exitCodes[run.position] ?? 0 };
  }
  async stepFailed(position: number, exit: StepExit) {
    this.step(`failed ${position}`);
    return {
      status: 'failed' as const,
      failedStep: position,
      reason: `code ${exit.exitCode}`
    };
  }
  async collectOutputs(): Promise<void> {
    this.step('outputs');
  }
  interrupt(): void {
    this.calls.push('interrupt');
  }
  async cleanup(): Promise<void> {
    this.step('cleanup');
  }
}

/** Events without their times (and without durations), for comparison. */
function shapes(events: RunEvent[]): unknown[] {
  return events.map(event => {
    const rest: Record<string, unknown> = { ...event };
    delete rest.time;
    delete rest.durationMs;
    return rest;
  });
}

/** Resolves when `signal` aborts: a step that runs until it is stopped. */
function untilStopped(signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    if (signal.aborted) {
      resolve();
    }
    signal.addEventListener('abort', () => resolve());
  });
}

async function run(
  backend: FakeBackend,
  plan = makePlan(2),
  signal?: AbortSignal
): Promise<{ result: unknown; events: RunEvent[] }> {
  const events: RunEvent[] = [];
  const result = await runLifecycle(
    { plan, onEvent: event => events.push(event), signal },
    backend
  );
  return { result, events };
}

describe('runLifecycle', () => {
  it('says every event in order, places inputs before their step, collects outputs, cleans up', async () => {
    const backend = new FakeBackend();
    const { result, events } = await run(backend);
    expect(result).toEqual({ status: 'succeeded' });
    expect(shapes(events)).toEqual([
      { type: 'status', status: 'running', detail: 'fake sandbox' },
      { type: 'step-start', step: 0, id: 'run0', argv: ['prog', '0'] },
      { type: 'log', step: 0, stream: 'stdout', text: 'out 0\n' },
      { type: 'step-end', step: 0, exitCode: 0 },
      { type: 'step-start', step: 1, id: 'run1', argv: ['prog', '1'] },
      { type: 'log', step: 1, stream: 'stdout', text: 'out 1\n' },
      { type: 'step-end', step: 1, exitCode: 0 },
      { type: 'end', status: 'succeeded' }
    ]);
    expect(backend.calls).toEqual([
      'prepare',
      'watch',
      'inputs 0: ',
      'run 0',
      'inputs 1: input',
      'run 1',
      'watch-stop',
      'outputs',
      'watch-stop',
      'cleanup'
    ]);
  });

  it('stops after a failing step, and still collects outputs', async () => {
    const backend = new FakeBackend();
    backend.exitCodes = [3, 0];
    const { result, events } = await run(backend);
    expect(result).toEqual({
      status: 'failed',
      failedStep: 0,
      reason: 'code 3'
    });
    expect(backend.calls).not.toContain('run 1');
    expect(backend.calls).toContain('outputs');
    expect(shapes(events).slice(-2)).toEqual([
      { type: 'step-end', step: 0, exitCode: 3 },
      { type: 'end', status: 'failed', failedStep: 0, reason: 'code 3' }
    ]);
  });

  it('cancels mid-step: interrupts the backend, runs no later step, collects nothing', async () => {
    const backend = new FakeBackend();
    const controller = new AbortController();
    backend.during.set(0, async ({ stop }) => {
      setImmediate(() => controller.abort());
      await untilStopped(stop);
      return { exitCode: 137 };
    });
    const { result, events } = await run(
      backend,
      makePlan(2),
      controller.signal
    );
    expect(result).toEqual({
      status: 'cancelled',
      failedStep: 0,
      reason: 'The run was cancelled.'
    });
    expect(backend.calls).toContain('interrupt');
    expect(backend.calls).not.toContain('run 1');
    expect(backend.calls).not.toContain('outputs');
    expect(backend.calls.at(-1)).toBe('cleanup');
    expect(events.at(-1)).toMatchObject({ type: 'end', status: 'cancelled' });
  });

  it('ends a step that ended without an exit code as the backend says, without a step-end', async () => {
    const backend = new FakeBackend();
    backend.during.set(0, async () => ({
      lost: { status: 'interrupted', failedStep: 0, reason: 'gone' }
    }));
    const { result, events } = await run(backend);
    expect(result).toEqual({
      status: 'interrupted',
      failedStep: 0,
      reason: 'gone'
    });
    expect(events.map(event => event.type)).not.toContain('step-end');
    expect(backend.calls).toContain('outputs');
  });

  it('stops the run at its time limit', async () => {
    jest.useFakeTimers({
      doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask']
    });
    try {
      const backend = new FakeBackend();
      backend.during.set(1, async ({ stop }) => {
        jest.advanceTimersByTime(5000);
        await untilStopped(stop);
        return { exitCode: 137 };
      });
      const { result } = await run(backend, makePlan(3, { timeoutSeconds: 5 }));
      expect(result).toEqual({
        status: 'timed-out',
        failedStep: 1,
        reason: 'The run exceeded its time limit of 5 s.'
      });
      expect(backend.calls).toContain('interrupt');
      expect(backend.calls).not.toContain('run 2');
      // Outputs are kept for a run stopped by its time.
      expect(backend.calls).toContain('outputs');
    } finally {
      jest.useRealTimers();
    }
  });

  it('names the step stopped by the time limit even when its wait then throws', async () => {
    // A killed container's wait may fail instead of giving an exit code (seen with Podman).
    const backend = new FakeBackend();
    backend.during.set(1, async ({ stop }) => {
      backend.kill!('timed-out');
      await untilStopped(stop);
      throw new Error('no such container');
    });
    const { result, events } = await run(
      backend,
      makePlan(3, { timeoutSeconds: 5 })
    );
    expect(result).toEqual({
      status: 'timed-out',
      failedStep: 1,
      reason: 'The run exceeded its time limit of 5 s.'
    });
    expect(events.at(-1)).toMatchObject({
      type: 'end',
      status: 'timed-out',
      failedStep: 1
    });
    expect(backend.calls.at(-1)).toBe('cleanup');
  });

  it('counts the time limit from when a re-attached run started', async () => {
    const backend = new FakeBackend();
    backend.prepared = { ready: true, startedAt: Date.now() - 10_000 };
    backend.during.set(0, async ({ stop }) => {
      await untilStopped(stop);
      return { lost: { status: 'cancelled', failedStep: 0 } };
    });
    const { result } = await run(backend, makePlan(1, { timeoutSeconds: 5 }));
    expect(result).toMatchObject({ status: 'timed-out', failedStep: 0 });
  });

  it('stops for a limit the backend watches, with its sentence', async () => {
    const backend = new FakeBackend();
    backend.during.set(0, async () => {
      backend.kill!({ reason: 'Too much disk.' });
      return { exitCode: 0 };
    });
    const { result } = await run(backend);
    expect(result).toEqual({
      status: 'failed',
      failedStep: 0,
      reason: 'Too much disk.'
    });
    expect(backend.calls).not.toContain('run 1');
  });

  it('runs nothing for a run cancelled before it starts, and says it ended', async () => {
    const backend = new FakeBackend();
    const controller = new AbortController();
    controller.abort();
    const { result, events } = await run(
      backend,
      makePlan(1),
      controller.signal
    );
    expect(result).toEqual({ status: 'cancelled' });
    expect(backend.calls).toEqual(['cleanup']);
    expect(shapes(events)).toEqual([{ type: 'end', status: 'cancelled' }]);
  });

  it('ends where prepare says the run cannot go on', async () => {
    const backend = new FakeBackend();
    backend.prepared = {
      ready: false,
      result: { status: 'error', reason: 'no sandbox' }
    };
    const { result, events } = await run(backend);
    expect(result).toEqual({ status: 'error', reason: 'no sandbox' });
    expect(backend.calls).toEqual(['prepare', 'cleanup']);
    expect(shapes(events)).toEqual([
      { type: 'end', status: 'error', reason: 'no sandbox' }
    ]);
  });

  it.each(['prepare', 'run 0', 'inputs 1: input', 'outputs'])(
    'cleans up and ends in error when %s throws',
    async part => {
      const backend = new FakeBackend();
      backend.throwIn = part;
      const { result, events } = await run(backend);
      expect(result).toEqual({
        status: 'error',
        reason: `The fake failed: ${part} broke`
      });
      expect(backend.calls.at(-1)).toBe('cleanup');
      expect(events.at(-1)).toMatchObject({ type: 'end', status: 'error' });
    }
  );

  it('still says the run ended when cleaning up throws', async () => {
    const backend = new FakeBackend();
    backend.throwIn = 'cleanup';
    const { result, events } = await run(backend);
    expect(result).toEqual({ status: 'succeeded' });
    expect(events.at(-1)).toMatchObject({ type: 'end', status: 'succeeded' });
  });

  it('says a run cancelled while it was prepared cancelled, without running it', async () => {
    const backend = new FakeBackend();
    const controller = new AbortController();
    backend.prepare = async () => {
      controller.abort();
      return { ready: true };
    };
    const { result } = await run(backend, makePlan(1), controller.signal);
    expect(result).toEqual({ status: 'cancelled' });
    expect(backend.calls).toEqual(['interrupt', 'cleanup']);
  });
});
