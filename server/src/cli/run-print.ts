/**
 * What `reproserver run` says while a run goes: the experiment's output where it wrote it (stdout,
 * stderr), our own lines on stderr, prefixed `[reproserver]`.
 */
import type { RunEvent } from '../runs/events';

/** Our own lines on stderr, the experiment's output where it wrote it. */
export function printEvent(event: RunEvent): void {
  switch (event.type) {
    case 'log':
      (event.stream === 'stdout' ? process.stdout : process.stderr).write(
        event.text
      );
      break;
    case 'build':
      if (event.build.type === 'phase') {
        console.error(`[reproserver] image: ${event.build.phase}`);
      } else if (
        event.build.type === 'log' &&
        event.build.level === 'warning'
      ) {
        console.error(`[reproserver] warning: ${event.build.message}`);
      }
      break;
    case 'step-start':
      console.error(`[reproserver] step ${event.step} (${event.id}) started`);
      break;
    case 'step-end':
      console.error(
        `[reproserver] step ${event.step} exited with code ${event.exitCode} after ${(event.durationMs / 1000).toFixed(1)} s`
      );
      break;
    case 'log-truncated':
      console.error(
        `[reproserver] the log reached ${event.limitBytes} bytes; the rest is not kept`
      );
      break;
    case 'output-missing':
      console.error(
        `[reproserver] output ${event.name} (${event.path}) is missing: ${event.reason}`
      );
      break;
    case 'end':
      console.error(
        `[reproserver] ${event.status}${event.reason ? `: ${event.reason}` : ''}`
      );
      break;
  }
}

/** Lines for stderr held until `release`, then said at once. */
export class HeldLines {
  say(line: string): void {
    if (this._held) {
      this._held.push(line);
    } else {
      console.error(line);
    }
  }

  release(): void {
    for (const line of this._held ?? []) {
      console.error(line);
    }
    this._held = undefined;
  }

  private _held: string[] | undefined = [];
}
