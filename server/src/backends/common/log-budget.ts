import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import type { RunEvent } from '../../runs/events';

/**
 * Turns one step's stdout or stderr bytes into `log` events: decoded as UTF-8 without splitting a
 * character, timestamped on arrival, and counted against the run's log limit, shared by both
 * streams of every step. Past the limit the output is drained (the experiment must not block on a
 * full pipe) and one `log-truncated` event says so.
 */
export class LogBudget {
  constructor(
    readonly limitBytes: number,
    private readonly emit: (event: RunEvent) => void
  ) {}

  used = 0;
  private truncated = false;

  /** A writable for one stream of one step. Call `flush()` on it when the step ends. */
  pump(
    step: number,
    stream: 'stdout' | 'stderr'
  ): Writable & { flush(): void } {
    const decoder = new StringDecoder('utf8');
    const write = (text: string): void => {
      if (text.length > 0) {
        this.emit({ type: 'log', time: Date.now(), step, stream, text });
      }
    };
    const writable = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        if (this.truncated) {
          callback();
          return;
        }
        const room = this.limitBytes - this.used;
        const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
        this.used += kept.length;
        write(decoder.write(kept));
        if (kept.length < chunk.length) {
          this.truncated = true;
          write(decoder.end());
          this.emit({
            type: 'log-truncated',
            time: Date.now(),
            step,
            limitBytes: this.limitBytes
          });
        }
        callback();
      }
    });
    return Object.assign(writable, {
      flush: () => {
        if (!this.truncated) {
          write(decoder.end());
        }
      }
    });
  }
}
