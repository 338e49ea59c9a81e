/**
 * Runs a run's log-regex metrics in a worker thread with a time limit (see `regex-check.ts` for
 * why): the log's lines go to the worker in batches, each batch waited for against the run's
 * deadline; a worker past it is terminated and every regex metric of the run is null. The
 * worker's code is a plain string (no file to find in a bundle or under ts-jest).
 */
import { Worker } from 'node:worker_threads';

export interface RegexPick {
  pattern: string;
  pick: 'first' | 'last';
}

/** The worker: compiles the patterns, keeps each one's first or last match over the batches. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const picks = workerData.map(p => ({ re: new RegExp(p.pattern, 'g'), first: p.pick === 'first' }));
const found = picks.map(() => null);
parentPort.on('message', lines => {
  for (const line of lines) {
    picks.forEach((p, i) => {
      if (p.first && found[i] !== null) return;
      p.re.lastIndex = 0;
      for (let m = p.re.exec(line); m; m = p.re.exec(line)) {
        found[i] = m.length > 1 && m[1] !== undefined ? m[1] : m[0];
        if (p.first) break;
        if (m[0] === '') p.re.lastIndex++;
      }
    });
  }
  parentPort.postMessage(found);
});
`;

export class RegexRunner {
  private readonly worker: Worker;
  private readonly deadline: number;
  private found: (string | null)[];
  private failed = false;

  constructor(
    private readonly picks: RegexPick[],
    timeLimitMs: number
  ) {
    this.deadline = Date.now() + timeLimitMs;
    this.found = picks.map(() => null);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: picks,
      // A pattern's own memory stays small; the batches are bounded by the caller.
      resourceLimits: { maxOldGenerationSizeMb: 64 }
    });
    this.worker.unref();
  }

  /** Matches a batch of lines; false once the time limit is past (nothing more is matched). */
  async feed(lines: string[]): Promise<boolean> {
    if (this.failed) {
      return false;
    }
    const answer = await this.exchange(lines);
    if (answer === undefined) {
      this.failed = true;
      return false;
    }
    this.found = answer;
    return true;
  }

  /** Each pattern's captured text (its first group, else the whole match); all null on overrun. */
  async finish(): Promise<(string | null)[]> {
    await this.worker.terminate();
    return this.failed ? this.picks.map(() => null) : this.found;
  }

  private exchange(lines: string[]): Promise<(string | null)[] | undefined> {
    return new Promise(resolve => {
      const timer = setTimeout(
        () => {
          cleanup();
          void this.worker.terminate();
          resolve(undefined);
        },
        Math.max(0, this.deadline - Date.now())
      );
      const onMessage = (found: (string | null)[]): void => {
        cleanup();
        resolve(found);
      };
      const onError = (): void => {
        cleanup();
        resolve(undefined);
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.worker.off('message', onMessage);
        this.worker.off('error', onError);
        this.worker.off('exit', onError);
      };
      this.worker.on('message', onMessage);
      this.worker.on('error', onError);
      this.worker.on('exit', onError);
      this.worker.postMessage(lines);
    });
  }
}
