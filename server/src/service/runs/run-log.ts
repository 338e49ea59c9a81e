/**
 * The log of each run: events appended in order to its file, the records keeping the log's size
 * (clients know where it ends), and the two events that end a run written together.
 */
import type { RunEvent, RunStatus } from '../../runs/events';
import type { EventLogs } from '../../store';
import type { Records } from '../../store/records';

/** How a run ended, as recorded: the status, and why when it did not succeed. */
export interface RunEnd {
  status: RunStatus;
  reason?: string;
  failedStep?: number;
}

export class RunLog {
  constructor(
    private readonly records: Records,
    private readonly logs: EventLogs
  ) {}

  /**
   * Appends after every earlier append of the same run (callers need not await: the order is
   * kept). A failure to write is reported, never thrown: the run goes on without its log.
   */
  append(id: string, event: RunEvent): Promise<void> {
    const previous = this._appends.get(id) ?? Promise.resolve();
    const next = previous
      .then(() => this.logs.append(id, event))
      .then(size => this.records.setLogSize(id, size))
      .catch(error =>
        console.error(
          `reproserver: cannot append to the log of run ${id}`,
          error
        )
      );
    this._appends.set(id, next);
    return next;
  }

  /**
   * Ends a run: its last `status` and `end` events, then its record. `closeLog` when nothing
   * executes the run any more (an executing run closes its log once its backend has returned).
   */
  async finish(id: string, end: RunEnd, closeLog: boolean): Promise<void> {
    await this.append(id, {
      type: 'status',
      time: Date.now(),
      status: end.status
    });
    await this.append(id, { type: 'end', time: Date.now(), ...end });
    // Recorded as ended once the log says so (see `RunExecutor._onRunEvent`).
    this.records.updateStatus(id, end.status, {
      reason: end.reason,
      failedStep: end.failedStep
    });
    if (closeLog) {
      await this.close(id);
    }
  }

  /** Waits for the run's pending appends, then closes its log file. */
  async close(id: string): Promise<void> {
    await this._appends.get(id);
    await this.logs.close(id);
    this._appends.delete(id);
  }

  private readonly _appends = new Map<string, Promise<void>>();
}
