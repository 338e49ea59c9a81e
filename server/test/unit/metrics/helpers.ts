/** An event log written the way `EventLogs` writes one, and outputs served from memory. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { RunEvent } from '../../../src/runs/events';
import type { RunSources } from '../../../src/metrics/extract';

/** A log whose experiment printed these chunks (stdout of step 0), among the server's events. */
export function eventLog(
  chunks: (string | { stream: 'stdout' | 'stderr'; text: string })[]
): string {
  const events: RunEvent[] = [
    { type: 'status', time: 1, status: 'running' },
    { type: 'step-start', time: 1, step: 0, id: 'run0', argv: ['sh'] },
    ...chunks.map((chunk): RunEvent => ({
      type: 'log',
      time: 2,
      step: 0,
      stream: typeof chunk === 'string' ? 'stdout' : chunk.stream,
      text: typeof chunk === 'string' ? chunk : chunk.text
    })),
    // Our own event, with something that looks like a metric: never read as one.
    { type: 'status', time: 3, status: 'succeeded', detail: 'acc=99' }
  ];
  const path = join(
    mkdtempSync(join(tmpdir(), 'metrics-log-')),
    'events.jsonl'
  );
  writeFileSync(path, events.map(e => JSON.stringify(e) + '\n').join(''));
  return path;
}

export function sources(
  log: string,
  outputs: Record<string, string | Buffer> = {}
): RunSources {
  return {
    eventLogPath: log,
    openOutput: async name => {
      const bytes = outputs[name];
      if (bytes === undefined) {
        return undefined;
      }
      const buffer = Buffer.from(bytes);
      // In pieces, as a blob store streams them: rows and tokens cross chunk boundaries.
      const pieces: Buffer[] = [];
      const size = Math.max(7, Math.ceil(buffer.length / 64));
      for (let i = 0; i < buffer.length; i += size) {
        pieces.push(buffer.subarray(i, i + size));
      }
      return { body: Readable.from(pieces), size: buffer.length };
    }
  };
}
