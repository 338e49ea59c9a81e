/**
 * `key=value` and `key: value` pairs in a log line, found without a regular expression (the key
 * is the user's; no pattern is built from it). A key counts only as a whole word: `acc` is not
 * found in `val_acc=…`. A value is the word after the separator, parsed strictly
 * (`numbers.ts`): `loss=nan` is a match whose value is null.
 */
import { parseMetricNumber } from './numbers';

/** Characters that may be part of a key: a key next to one of these is part of a longer word. */
const isKeyChar = (c: string | undefined): boolean =>
  c !== undefined && /[A-Za-z0-9_.-]/.test(c);

/** Characters that end a value: `acc=0.9, loss=1` or `(acc=0.9)`. */
const VALUE_END = new Set([' ', '\t', '\r', ',', ';', ')', ']', '}', '"', "'"]);

/** Every value of `key` in the line, in order (null where the value is not a number). */
export function pairValues(line: string, key: string): (number | null)[] {
  const values: (number | null)[] = [];
  for (
    let at = line.indexOf(key);
    at !== -1;
    at = line.indexOf(key, at + key.length)
  ) {
    // A quoted key (`"acc": 0.9`) counts: the quote is not a key character.
    if (isKeyChar(line[at - 1])) {
      continue;
    }
    let i = at + key.length;
    if (line[i] === '"' || line[i] === "'") {
      i++;
    }
    while (line[i] === ' ' || line[i] === '\t') {
      i++;
    }
    if (line[i] !== '=' && line[i] !== ':') {
      continue;
    }
    i++;
    while (line[i] === ' ' || line[i] === '\t') {
      i++;
    }
    if (line[i] === '"' || line[i] === "'") {
      i++;
    }
    let end = i;
    while (end < line.length && !VALUE_END.has(line[end])) {
      end++;
    }
    values.push(parseMetricNumber(line.slice(i, end)));
  }
  return values;
}
