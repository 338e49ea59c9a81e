import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import type { RunEvent } from '../../runs/events';

/**
 * Output arriving within this long of the stream's last event joins the next event instead of
 * making its own: an experiment writing one byte at a time would otherwise turn each byte into an
 * event (about a hundred bytes of log each, outside the byte budget). Isolated lines still go out
 * at once.
 */
export const COALESCE_MS = 20;
/** A coalesced event is sent before it grows past this many characters. */
const COALESCE_MAX_CHARS = 64 * 1024;

/**
 * Turns one step's stdout or stderr bytes into `log` events: decoded as UTF-8 without splitting a
 * character, timestamped on arrival, and counted against the run's log limit, shared by both
 * streams of every step. Past the limit the output is drained (the experiment must not block on a
 * full pipe) and one `log-truncated` event says so. A stream makes at most one event per
 * `COALESCE_MS`, whatever the size of its writes.
 */
export class LogBudget {
  constructor(
    readonly limitBytes: number,
    private readonly emit: (event: RunEvent) => void
  ) {}

  used = 0;
  private truncated = false;
  /** Streams holding coalesced output, each with the function that sends it. */
  private readonly waiting = new Set<() => void>();

  /** A writable for one stream of one step. Call `flush()` on it when the step ends. */
  pump(
    step: number,
    stream: 'stdout' | 'stderr'
  ): Writable & { flush(): void } {
    const decoder = new StringDecoder('utf8');
    let pending = '';
    let pendingSince = 0;
    let lastEmit = -Infinity;
    let timer: NodeJS.Timeout | undefined;
    const send = (): void => {
      if (timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
      }
      if (pending.length > 0) {
        const text = pending;
        pending = '';
        this.waiting.delete(send);
        // What other streams hold arrived earlier: it goes first, so the log keeps its order.
        for (const other of [...this.waiting]) {
          other();
        }
        this.emit({ type: 'log', time: pendingSince, step, stream, text });
        lastEmit = Date.now();
      }
    };
    const write = (text: string): void => {
      if (text.length === 0) {
        return;
      }
      const now = Date.now();
      if (pending.length === 0) {
        pendingSince = now;
      }
      pending += text;
      this.waiting.add(send);
      const wait = lastEmit + COALESCE_MS - now;
      if (wait <= 0 || pending.length >= COALESCE_MAX_CHARS) {
        send();
      } else {
        timer ??= setTimeout(send, wait);
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
          send();
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
        send();
      }
    });
  }
}
