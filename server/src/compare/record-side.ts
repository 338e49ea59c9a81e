/** A run of the records as one side of a comparison: outputs from the blob store, its log. */
import type { BlobStore, EventLogs } from '../store';
import type { Records, RunRecord } from '../store/records';
import type { RunEvent } from '../runs/events';
import { factsOf } from './facts';
import type { RunSide } from './side';

export function recordSide(
  stores: { records: Records; blobs: BlobStore; logs: EventLogs },
  run: RunRecord,
  maxOutputs: number
): RunSide {
  const outputs = stores.records
    .listOutputs(run.id)
    .slice(0, maxOutputs)
    .map(({ name, size, sha256 }) => ({ name, size, sha256 }));
  return {
    label: run.id,
    facts: factsOf({
      backend: run.backend,
      steps: run.steps,
      edits: run.edits,
      inputs: stores.records.listInputs(run.id),
      limits: { ...run.limits }
    }),
    outputs,
    open: output => stores.blobs.get(output.sha256),
    logText: maxBytes => logText(stores.logs, run.id, maxBytes)
  };
}

/** One event's share of the log's text: what a step printed, a step's command line. */
function textOf(event: RunEvent): string {
  if (event.type === 'log') {
    return event.text;
  }
  if (event.type === 'step-start') {
    return `$ ${event.argv.join(' ')}\n`;
  }
  if (event.type === 'step-end') {
    return `(step ${event.step} exited with ${event.exitCode})\n`;
  }
  return '';
}

/** The log's text, page by page, stopping as soon as it is over `maxBytes`. */
async function logText(
  logs: EventLogs,
  runId: string,
  maxBytes: number
): Promise<{ text: Buffer | null; size: number }> {
  const parts: Buffer[] = [];
  let size = 0;
  let offset = 0;
  for (;;) {
    const page = await logs.read(runId, offset).catch(() => null);
    if (!page || page.events.length === 0) {
      break;
    }
    for (const event of page.events) {
      const part = Buffer.from(textOf(event), 'utf8');
      size += part.length;
      if (size > maxBytes) {
        return { text: null, size };
      }
      parts.push(part);
    }
    if (page.nextOffset === offset) {
      break;
    }
    offset = page.nextOffset;
  }
  return { text: Buffer.concat(parts, size), size };
}
