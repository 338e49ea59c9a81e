/**
 * A streaming CSV reader (RFC 4180: quoted fields with `""` inside, commas and newlines in
 * quotes, CRLF or LF): hands over one row at a time, never holding more than one row. A row
 * longer than `maxRowChars` or a quote still open at the end makes the file unreadable: the
 * reader says so (`CsvError`) rather than guess where rows end.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

export class CsvError extends Error {}

export interface CsvReadOptions {
  maxRowChars: number;
  /** Called with each row; `stop` ends the reading (the rest of the file is not read). */
  onRow: (fields: string[]) => 'continue' | 'stop';
}

export async function readCsv(
  body: Readable,
  options: CsvReadOptions
): Promise<void> {
  const decoder = new StringDecoder('utf8');
  let fields: string[] = [];
  let field = '';
  let rowChars = 0;
  let inQuotes = false;
  /** Just after a closing quote: a second quote is an escaped one. */
  let afterQuote = false;
  /** The field began with a quote (so it is a quoted field). */
  let started = false;
  let stopped = false;
  let pendingCR = false;

  const endRow = (): boolean => {
    fields.push(field);
    const row = fields;
    fields = [];
    field = '';
    rowChars = 0;
    started = false;
    return options.onRow(row) === 'stop';
  };

  const feed = (text: string): boolean => {
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (++rowChars > options.maxRowChars) {
        throw new CsvError(
          `a row is longer than ${options.maxRowChars} characters`
        );
      }
      if (inQuotes) {
        if (c === '"') {
          inQuotes = false;
          afterQuote = true;
        } else {
          field += c;
        }
        continue;
      }
      if (afterQuote) {
        afterQuote = false;
        if (c === '"') {
          // `""` inside a quoted field.
          field += '"';
          inQuotes = true;
          continue;
        }
      }
      if (pendingCR) {
        pendingCR = false;
        if (c === '\n') {
          rowChars = 0;
          continue;
        }
      }
      if (c === '"' && !started && field === '') {
        inQuotes = true;
        started = true;
      } else if (c === ',') {
        fields.push(field);
        field = '';
        started = false;
      } else if (c === '\n' || c === '\r') {
        pendingCR = c === '\r';
        if (endRow()) {
          return true;
        }
      } else {
        field += c;
      }
    }
    return false;
  };

  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (feed(decoder.write(chunk))) {
      stopped = true;
      break;
    }
  }
  if (stopped) {
    body.destroy();
    return;
  }
  feed(decoder.end());
  if (inQuotes) {
    throw new CsvError('a quoted field is never closed');
  }
  if (field !== '' || fields.length > 0 || started) {
    endRow();
  }
}
