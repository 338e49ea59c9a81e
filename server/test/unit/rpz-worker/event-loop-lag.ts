import { readerScript } from '../../../src/rpz/worker/reader-script';

/**
 * Under jest the reader's script is bundled from the TypeScript sources when first asked for, by a
 * synchronous esbuild run (`child-script.ts`): the tests' own cost, not the server's, which a lag
 * probe around a file's first read counted as a stall (282 ms once, on a loaded machine). Each
 * file that probes calls this before any probe.
 */
export function bundleReaderScriptBeforeProbing(): void {
  readerScript();
}

/**
 * Largest event-loop lag the reader tests tolerate: a read on the event loop would stall it for
 * its whole deadline; starting readers on a loaded 2-core machine stays far below.
 */
export const MAX_LAG_MS = 250;

/** Measures how late a timer fires while work runs: the event loop's responsiveness. */
export interface LagProbe {
  /** Stops the probe; returns the largest lateness seen, in ms. */
  stop(): number;
}

export function probeEventLoopLag(intervalMs = 10): LagProbe {
  let worst = 0;
  let expected = performance.now() + intervalMs;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - expected);
    expected = now + intervalMs;
  }, intervalMs);
  return {
    stop(): number {
      clearInterval(timer);
      return worst;
    }
  };
}
