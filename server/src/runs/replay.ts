/**
 * What a run's log already holds. A run re-attached after a server restart is replayed by its
 * backend from the start of each step's output (the only way to know exactly where the previous
 * server stopped reading); this drops every event the log has, so the log goes on as if the
 * server had never stopped: nothing repeated, nothing missing.
 */
import type { EventLogs } from '../store';
import type { RunEvent, RunStatus } from './events';

export class LoggedEvents {
  /** Reads the whole log of a run, a page at a time. */
  static async read(logs: EventLogs, runId: string): Promise<LoggedEvents> {
    const logged = new LoggedEvents();
    let offset = 0;
    for (;;) {
      const page = await logs.read(runId, offset);
      page.events.forEach(event => logged.add(event));
      if (page.nextOffset === offset) {
        return logged;
      }
      offset = page.nextOffset;
    }
  }

  add(event: RunEvent): void {
    switch (event.type) {
      case 'status':
        this._status = event.status;
        break;
      case 'step-start':
      case 'step-end':
      case 'log-truncated':
        this._seen.add(`${event.type}:${event.step}`);
        break;
      case 'log': {
        const key = `${event.step}:${event.stream}`;
        this._logged.set(key, (this._logged.get(key) ?? 0) + event.text.length);
        break;
      }
      case 'output':
      case 'output-missing':
        this._seen.add(`${event.type}:${event.name}`);
        break;
    }
  }

  /**
   * Wraps `emit` so that it gets only what the log does not hold yet: a status equal to the
   * latest, steps started or ended, output already listed, and as much of each step's stdout and
   * stderr text as the log has (an event straddling that point is cut).
   */
  filter(emit: (event: RunEvent) => void): (event: RunEvent) => void {
    return event => {
      const news = this._unseen(event);
      if (news) {
        if (news.type !== 'log') {
          this.add(news);
        }
        emit(news);
      }
    };
  }

  private _unseen(event: RunEvent): RunEvent | undefined {
    switch (event.type) {
      case 'status':
        return event.status === this._status ? undefined : event;
      case 'step-start':
      case 'step-end':
      case 'log-truncated':
        return this._seen.has(`${event.type}:${event.step}`)
          ? undefined
          : event;
      case 'output':
      case 'output-missing':
        return this._seen.has(`${event.type}:${event.name}`)
          ? undefined
          : event;
      case 'log': {
        const key = `${event.step}:${event.stream}`;
        const logged = this._logged.get(key) ?? 0;
        const before = this._replayed.get(key) ?? 0;
        this._replayed.set(key, before + event.text.length);
        if (before + event.text.length <= logged) {
          return undefined;
        }
        return before < logged
          ? { ...event, text: event.text.slice(logged - before) }
          : event;
      }
      default:
        return event;
    }
  }

  private _status: RunStatus | undefined;
  private readonly _seen = new Set<string>();
  /** Characters of text the log holds, per step and stream. */
  private readonly _logged = new Map<string, number>();
  /** Characters of text replayed so far, per step and stream. */
  private readonly _replayed = new Map<string, number>();
}
