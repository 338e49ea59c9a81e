/**
 * The experiment's own lines in a run's event log: the text of its `log` events (stdout and
 * stderr of every step), put back into lines per step and stream, without the server's events
 * (status, steps, outputs). Read a chunk at a time (`scanLines`); a line longer than
 * `maxLineChars` is cut there and the rest of it skipped, so no line grows without bound.
 */
import { scanLines, type ScanControl } from '../store/jsonl-scan';

export interface LogLineOptions {
  maxLineChars: number;
  /** Lines are handed over in batches of about this many characters. */
  batchChars: number;
  onLines: (lines: string[]) => Promise<void> | void;
}

interface Partial {
  text: string;
  /** The line was already cut: drop its text until its newline. */
  cut: boolean;
}

export async function readLogLines(
  eventLogPath: string,
  options: LogLineOptions
): Promise<void> {
  const partials = new Map<string, Partial>();
  let batch: string[] = [];
  let batchChars = 0;
  const flush = async (): Promise<void> => {
    if (batch.length > 0) {
      const lines = batch;
      batch = [];
      batchChars = 0;
      await options.onLines(lines);
    }
  };
  const emit = (line: string): void => {
    batch.push(line);
    batchChars += line.length;
  };
  const append = (partial: Partial, text: string): void => {
    if (partial.cut) {
      return;
    }
    const room = options.maxLineChars - partial.text.length;
    if (text.length > room) {
      partial.text += text.slice(0, room);
      partial.cut = true;
    } else {
      partial.text += text;
    }
  };
  await scanLines(eventLogPath, 0, async (line): Promise<ScanControl> => {
    // Cheap test before parsing: most events of a long log are `log` ones anyway.
    if (!line.includes('"type":"log"')) {
      return 'continue';
    }
    let event: { type?: string; step?: number; stream?: string; text?: string };
    try {
      event = JSON.parse(line.toString('utf8')) as typeof event;
    } catch {
      return 'continue';
    }
    if (event.type !== 'log' || typeof event.text !== 'string') {
      return 'continue';
    }
    const key = `${event.step}:${event.stream}`;
    let partial = partials.get(key);
    if (!partial) {
      partial = { text: '', cut: false };
      partials.set(key, partial);
    }
    const pieces = event.text.split('\n');
    for (let i = 0; i < pieces.length - 1; i++) {
      append(partial, pieces[i]);
      emit(partial.text.replace(/\r$/, ''));
      partial.text = '';
      partial.cut = false;
    }
    append(partial, pieces[pieces.length - 1]);
    if (batchChars >= options.batchChars) {
      await flush();
    }
    return 'continue';
  });
  // A last line without its newline is still a line of the experiment's output.
  for (const partial of partials.values()) {
    if (partial.text !== '') {
      emit(partial.text);
    }
  }
  await flush();
}
