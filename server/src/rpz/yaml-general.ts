/**
 * Any YAML text of a config, read with the `yaml` library under the failsafe schema: the path for
 * configs not of the form reprozip writes (`reprozip-yaml.ts` reads those), and the one that words
 * YAML errors. Loaded only when needed: the library is most of the package reader's code.
 */
import { parseDocument } from 'yaml';
import { errorMessage } from '../describe';
import { RpzError } from './errors';
import type { ReadLimits } from './limits';
import type { FailsafeValue } from './reprozip-yaml';
import { yamlShape } from './yaml-depth';

const CONFIG = 'METADATA/config.yml';

/** Spaces and tabs, the only indentation/separation `quoteNamesAndPaths` looks at. */
function isBlank(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * The unquoted value of a `name:` or `path:` line (`  - name: value`), as
 * `[prefix, key, value]`, or null. Parsed by hand, in one pass: the regular expression this
 * replaces (`(.*?)\s*$`) took time quadratic in a run of spaces, minutes for one long line.
 */
function nameOrPathLine(line: string): [string, string, string] | null {
  let i = 0;
  while (i < line.length && isBlank(line.charCodeAt(i))) {
    i++;
  }
  if (line[i] === '-' && isBlank(line.charCodeAt(i + 1))) {
    i += 2;
    while (i < line.length && isBlank(line.charCodeAt(i))) {
      i++;
    }
  }
  const key = line.startsWith('name:', i)
    ? 'name'
    : line.startsWith('path:', i)
      ? 'path'
      : null;
  if (key === null || !isBlank(line.charCodeAt(i + 5))) {
    return null;
  }
  const prefix = line.slice(0, i);
  const value = line.slice(i + 5).trim();
  return [prefix, key, value];
}

/** Quotes unquoted `name:`/`path:` values, the values ReproZip writes without quoting. */
function quoteNamesAndPaths(source: string): { text: string; lines: number[] } {
  const lines: number[] = [];
  const out = source.split('\n').map((line, index) => {
    const match = nameOrPathLine(line);
    if (
      match === null ||
      match[2] === '' ||
      `"'[{&*!|>`.includes(match[2][0])
    ) {
      return line;
    }
    lines.push(index + 1);
    return `${match[0]}${match[1]}: '${match[2].replaceAll("'", "''")}'`;
  });
  return { text: out.join('\n'), lines };
}

/**
 * `parseDocument` without stack traces: the parser makes an Error per YAML error, and capturing a
 * stack for each was 80% of the time on a config of a million stray commas. Synchronous, so
 * nothing else runs while the limit is lowered.
 */
function parseWithoutStacks(
  source: string,
  options: Parameters<typeof parseDocument>[1]
): ReturnType<typeof parseDocument> {
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return parseDocument(source, options);
  } finally {
    Error.stackTraceLimit = saved;
  }
}

/** `source` parsed by the `yaml` library, within `limits`; its warnings added to `warnings`. */
export function parseAnyYaml(
  source: string,
  warnings: string[],
  limits: ReadLimits
): FailsafeValue | null {
  // Before the parser sees it: a deep document exhausts the composer's stack (or memory), and
  // the composer's memory grows with the number of nodes.
  const shape = yamlShape(source, limits.maxYamlDepth, limits.maxYamlTokens);
  if (shape.depth > limits.maxYamlDepth) {
    throw new RpzError(
      'limit-exceeded',
      `${CONFIG} is nested more than ${limits.maxYamlDepth} levels deep (limit maxYamlDepth); refusing to read it.`,
      CONFIG
    );
  }
  if (shape.tokens > limits.maxYamlTokens) {
    throw new RpzError(
      'limit-exceeded',
      `${CONFIG} has more than ${limits.maxYamlTokens} YAML tokens (limit maxYamlTokens); refusing to read it.`,
      CONFIG
    );
  }
  const options = {
    schema: 'failsafe',
    version: '1.1',
    prettyErrors: false,
    uniqueKeys: false
  } as const;
  let doc = parseWithoutStacks(source, options);
  if (doc.errors.length > 0) {
    const firstError = doc.errors[0];
    const retry = quoteNamesAndPaths(source);
    const second =
      retry.lines.length > 0 ? parseWithoutStacks(retry.text, options) : null;
    if (second === null || second.errors.length > 0) {
      const line = source.slice(0, firstError.pos[0]).split('\n').length;
      throw new RpzError(
        'invalid-yaml',
        `${CONFIG} is not valid YAML (line ${line}): ${firstError.message.split('\n')[0].replace(/\.$/, '')}.`,
        CONFIG
      );
    }
    warnings.push(
      `${CONFIG}: unquoted name/path values on line(s) ${retry.lines.join(', ')} did not parse as YAML and were read as plain text.`
    );
    doc = second;
  }
  for (const warning of doc.warnings) {
    warnings.push(`${CONFIG}: ${warning.message.split('\n')[0]}`);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 }) as FailsafeValue | null;
  } catch (error) {
    throw new RpzError(
      'invalid-yaml',
      `${CONFIG} is not usable YAML: ${errorMessage(error)}.`,
      CONFIG
    );
  }
}
