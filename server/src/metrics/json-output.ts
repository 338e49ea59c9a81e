/**
 * A number at a path of a JSON output. The output is read only when its size is within
 * `METRIC_BOUNDS.jsonBytes`, and parsed only when its nesting is within `jsonDepth` (checked on
 * the bytes first: a hostile `[[[[…` never reaches the parser). The value may be a number or a
 * string holding one (`"0.93"`), parsed strictly.
 */
import type { Readable } from 'node:stream';
import { METRIC_BOUNDS } from './bounds';
import { valueAt, type PathSegment } from './json-path';
import { parseMetricNumber } from './numbers';

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Reads a JSON output (within the bounds) and gives each path's number; null where none. */
export async function jsonValues(
  body: Readable,
  size: number,
  paths: PathSegment[][]
): Promise<(number | null)[]> {
  const none = paths.map(() => null);
  if (size > METRIC_BOUNDS.jsonBytes) {
    body.destroy();
    return none;
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > METRIC_BOUNDS.jsonBytes) {
      // The record said less: believe the bytes.
      body.destroy();
      return none;
    }
    chunks.push(chunk);
  }
  const bytes = Buffer.concat(chunks);
  if (nestingDepth(bytes) > METRIC_BOUNDS.jsonDepth) {
    return none;
  }
  let document: unknown;
  try {
    document = JSON.parse(bytes.toString('utf8'));
  } catch {
    return none;
  }
  return paths.map(path => {
    const value = valueAt(document, path);
    if (typeof value === 'number') {
      return Number.isFinite(value) ? value : null;
    }
    return typeof value === 'string' ? parseMetricNumber(value) : null;
  });
}

/** The deepest nesting of arrays and objects, brackets inside strings ignored. */
export function nestingDepth(bytes: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) {
        i++;
      } else if (b === QUOTE) {
        inString = false;
      }
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
      }
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
    }
  }
  return deepest;
}
