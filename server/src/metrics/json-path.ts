/**
 * A JSON metric's path, `a.b[0].c`: keys separated by dots, array indexes in brackets. Empty:
 * the document itself. A key with a dot or a bracket in it cannot be named (rare in outputs
 * meant to be read as metrics).
 */
export type PathSegment = string | number;

/** The segments, or a sentence saying what is wrong with the path. */
export function parseJsonPath(path: string): PathSegment[] | string {
  const segments: PathSegment[] = [];
  let i = 0;
  while (i < path.length) {
    if (path[i] === '[') {
      const close = path.indexOf(']', i);
      const index = close === -1 ? '' : path.slice(i + 1, close);
      if (!/^\d{1,9}$/.test(index)) {
        return `"${path}" has a bracket without an index in it; write a.b[0].c.`;
      }
      segments.push(Number(index));
      i = close + 1;
    } else {
      if (segments.length > 0) {
        if (path[i] !== '.') {
          return `"${path}" needs a dot between a bracket and a key; write a.b[0].c.`;
        }
        i++;
      }
      let end = i;
      while (end < path.length && path[end] !== '.' && path[end] !== '[') {
        end++;
      }
      if (end === i) {
        return `"${path}" has an empty key; write a.b[0].c.`;
      }
      segments.push(path.slice(i, end));
      i = end;
    }
  }
  return segments;
}

/** The value at the path, if there is one. */
export function valueAt(document: unknown, path: PathSegment[]): unknown {
  let value = document;
  for (const segment of path) {
    if (typeof segment === 'number') {
      if (!Array.isArray(value)) {
        return undefined;
      }
      value = value[segment];
    } else {
      if (
        value === null ||
        typeof value !== 'object' ||
        Array.isArray(value) ||
        !Object.prototype.hasOwnProperty.call(value, segment)
      ) {
        return undefined;
      }
      value = (value as Record<string, unknown>)[segment];
    }
  }
  return value;
}
