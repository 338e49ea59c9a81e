/**
 * The YAML that ReproZip writes, read without a general YAML parser.
 *
 * reprozip writes config.yml from its own templates: block mappings and sequences, one scalar a
 * line (plain, or quoted on one line), `[]`, `{}` and flat flow sequences of plain words, comments.
 * Reading that with the `yaml` library meant loading and compiling about 200 KB of code, and about
 * 15 ms of a small package's first `reproserver inspect` (bench/cli/startup.mjs) for a 2.5 KB file.
 *
 * This reader accepts only that form, and for it gives exactly what the `yaml` library gives with
 * config.ts's options (the failsafe schema: every scalar is the string as written). For anything
 * else (tags, anchors, a scalar over several lines, an escape it does not know, a tab, a repeated
 * key, a key it would have to unquote…) it answers null, and the caller reads the text with the
 * `yaml` library, which also words the errors. So it never refuses a config and never changes what
 * one means; `test/unit/rpz/reprozip-yaml.test.ts` holds it to the library on real configs and on
 * thousands of damaged ones.
 *
 * Its bounds keep it inside the general path's: it declines a text whose nesting the `yaml-depth.ts`
 * bound could put over `maxYamlDepth`, or that the `yaml` lexer could make more than
 * `maxYamlTokens` tokens of.
 */

/** A YAML value under the failsafe schema. */
export type FailsafeValue =
  string | FailsafeValue[] | { [key: string]: FailsafeValue };

/** The limits of the general path (`ReadLimits`) that this reader must stay within. */
export interface YamlBounds {
  maxYamlDepth: number;
  maxYamlTokens: number;
}

/** Thrown inside the reader when the text is not of the form it reads (not an error: no stack). */
const NOT_THIS_FORM = Symbol('not the form ReproZip writes');

/**
 * Characters outside the form: C0 controls but the newline (a tab, a carriage return), DEL, C1
 * controls (NEL is a line break to YAML 1.1), the Unicode line and paragraph separators, the byte
 * order mark and the two non-characters at the end of the plane.
 */
const FOREIGN_CHARACTER =
  /[^\n\x20-\x7e\u00a0-\u2027\u202a-\ufefe\uff00-\ufffd]/;

/** A mapping key written plainly, and the separator after it. */
const PLAIN_KEY = /^([A-Za-z0-9_][A-Za-z0-9_.-]*):(?: +|$)/;

/** An item of a flow sequence, as reprozip writes them (run numbers). */
const FLOW_WORD = /^[A-Za-z0-9_][A-Za-z0-9_./+-]*$/;

/** Characters that cannot start a plain scalar (`-` can, when a non-space follows). */
const INDICATORS = new Set('-?:,[]{}#&*!|>\'"%@`');

/** The escapes of double-quoted scalars this reader knows (others go to the `yaml` library). */
const ESCAPES: Record<string, string> = {
  '\\': '\\',
  '"': '"',
  '0': '\0',
  t: '\t',
  n: '\n',
  r: '\r',
  e: '\x1b'
};

/**
 * Bound of the `yaml-depth.ts` estimate per level of nesting: a line adds at most 2 to its parent
 * line's, plus its indicators (here at most a `-` and a `:`) and 2 inside a flow collection.
 */
const DEPTH_BOUND_PER_LEVEL = 6;

/** One line that holds something: its indentation, and what follows it. */
interface Line {
  indent: number;
  text: string;
}

/**
 * `source` read as the failsafe YAML of a config ReproZip wrote, or null when it is not of that
 * form (read it with the `yaml` library then).
 */
export function readReproZipYaml(
  source: string,
  bounds: YamlBounds
): FailsafeValue | null {
  if (FOREIGN_CHARACTER.test(source)) {
    return null;
  }
  const rawLines = source.split('\n');
  if (
    maxTokens(rawLines.length, occurrences(source, ',')) > bounds.maxYamlTokens
  ) {
    return null;
  }
  const lines = contentLines(rawLines);
  if (lines === null || lines.length === 0) {
    return null;
  }
  const maxDepth = Math.floor(bounds.maxYamlDepth / DEPTH_BOUND_PER_LEVEL) - 1;
  try {
    const reader = new BlockReader(lines, maxDepth);
    const root = reader.block(0);
    return reader.atEnd() ? root : null;
  } catch (error) {
    if (error === NOT_THIS_FORM) {
      return null;
    }
    throw error;
  }
}

/**
 * A bound on the tokens the `yaml` lexer makes of a text this reader accepts: a line of it holds
 * at most an indentation, a `-`, a key (a scalar's marker and the scalar), a `:`, a value, the
 * spaces between them, a comment and the newline; and a flow sequence adds a comma, a space and a
 * scalar per item. The document's start and end add a few.
 */
function maxTokens(lineCount: number, commaCount: number): number {
  return lineCount * 12 + commaCount * 4 + 16;
}

function occurrences(text: string, character: string): number {
  let count = 0;
  for (
    let i = text.indexOf(character);
    i !== -1;
    i = text.indexOf(character, i + 1)
  ) {
    count++;
  }
  return count;
}

/** The lines that hold something (not blank, not a comment), or null for document markers. */
function contentLines(rawLines: string[]): Line[] | null {
  const lines: Line[] = [];
  for (const raw of rawLines) {
    let indent = 0;
    while (raw.charCodeAt(indent) === 0x20) {
      indent++;
    }
    const text = raw.slice(indent);
    if (text === '' || text.startsWith('#')) {
      continue;
    }
    if (
      indent === 0 &&
      (text.startsWith('%') || text.startsWith('---') || text.startsWith('...'))
    ) {
      return null;
    }
    lines.push({ indent, text });
  }
  return lines;
}

function notThisForm(): never {
  throw NOT_THIS_FORM;
}

function isSequenceItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

/** Reads nested blocks from the lines, one line after the other. */
class BlockReader {
  private at = 0;

  constructor(
    private readonly lines: Line[],
    private readonly maxDepth: number
  ) {}

  atEnd(): boolean {
    return this.at === this.lines.length;
  }

  /** The mapping or sequence whose first line is the current one. */
  block(depth: number): FailsafeValue {
    if (depth > this.maxDepth) {
      notThisForm();
    }
    const line = this.lines[this.at];
    return isSequenceItem(line.text)
      ? this.sequence(line.indent, depth)
      : this.mapping(line.indent, depth);
  }

  private sequence(indent: number, depth: number): FailsafeValue[] {
    const items: FailsafeValue[] = [];
    for (
      let line = this.lines[this.at];
      line !== undefined && line.indent === indent && isSequenceItem(line.text);
      line = this.lines[this.at]
    ) {
      let start = 1;
      while (line.text.charCodeAt(start) === 0x20) {
        start++;
      }
      const rest = line.text.slice(start);
      if (rest === '' || isSequenceItem(rest)) {
        notThisForm();
      }
      if (PLAIN_KEY.test(rest)) {
        // `- key: value`: a mapping whose column is that of its first key.
        this.lines[this.at] = { indent: indent + start, text: rest };
        items.push(this.block(depth + 1));
      } else {
        items.push(this.valueOnLine(rest, indent));
      }
    }
    return items;
  }

  private mapping(
    indent: number,
    depth: number
  ): { [key: string]: FailsafeValue } {
    const entries: { [key: string]: FailsafeValue } = {};
    for (
      let line = this.lines[this.at];
      line !== undefined &&
      line.indent === indent &&
      !isSequenceItem(line.text);
      line = this.lines[this.at]
    ) {
      const match = PLAIN_KEY.exec(line.text) ?? notThisForm();
      const key = match[1];
      if (key === '__proto__' || Object.hasOwn(entries, key)) {
        notThisForm();
      }
      const rest = line.text.slice(match[0].length);
      entries[key] =
        rest === ''
          ? this.valueBelow(indent, depth)
          : this.valueOnLine(rest, indent);
    }
    return entries;
  }

  /** The value of a key with nothing after its colon: the block below, or an empty scalar. */
  private valueBelow(indent: number, depth: number): FailsafeValue {
    this.at++;
    const next = this.lines[this.at];
    if (next === undefined || next.indent < indent) {
      return '';
    }
    if (next.indent > indent) {
      return this.block(depth + 1);
    }
    // A sequence may sit at its key's column.
    return isSequenceItem(next.text) ? this.sequence(indent, depth + 1) : '';
  }

  /** A value written on the current line, after which no line may be indented deeper. */
  private valueOnLine(text: string, indent: number): FailsafeValue {
    const value = scalarOrFlow(text);
    this.at++;
    const next = this.lines[this.at];
    if (next !== undefined && next.indent > indent) {
      // A plain scalar continued on the next line, or an error: the `yaml` library's business.
      notThisForm();
    }
    return value;
  }
}

/** The value written in `text` (which starts with no space), the rest of the line. */
function scalarOrFlow(text: string): FailsafeValue {
  switch (text[0]) {
    case '"':
      return doubleQuoted(text);
    case "'":
      return singleQuoted(text);
    case '[':
      return flowSequence(text);
    case '{':
      if (!text.startsWith('{}')) {
        notThisForm();
      }
      restIsComment(text, 2);
      return {};
    default:
      return plain(withoutTrailingSpaces(text));
  }
}

/** `text` without the spaces at its end (YAML's white space: not `trimEnd`'s Unicode one). */
function withoutTrailingSpaces(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x20) {
    end--;
  }
  return text.slice(0, end);
}

/**
 * After a quoted scalar or a flow collection, a line holds only spaces, then perhaps a comment
 * (reprozip writes `- "/usr/bin/head" # 120 KB`): a `#` after at least one space.
 */
function restIsComment(text: string, index: number): void {
  let i = index;
  while (text.charCodeAt(i) === 0x20) {
    i++;
  }
  if (i < text.length && !(text[i] === '#' && i > index)) {
    notThisForm();
  }
}

/** The next quote or backslash of a double-quoted scalar. */
const QUOTE_OR_ESCAPE = /["\\]/g;

function doubleQuoted(text: string): string {
  let value = '';
  let i = 1;
  for (;;) {
    // One pass over the text, whatever the number of escapes (no search from each one).
    QUOTE_OR_ESCAPE.lastIndex = i;
    const found = QUOTE_OR_ESCAPE.exec(text) ?? notThisForm();
    value += text.slice(i, found.index);
    if (found[0] === '"') {
      restIsComment(text, found.index + 1);
      return value;
    }
    const escape = found.index;
    const code = text[escape + 1];
    if (code === 'x' || code === 'u') {
      const digits = code === 'x' ? 2 : 4;
      const hex = text.slice(escape + 2, escape + 2 + digits);
      if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== digits) {
        notThisForm();
      }
      const unit = parseInt(hex, 16);
      if (unit >= 0xd800 && unit <= 0xdfff) {
        notThisForm();
      }
      value += String.fromCharCode(unit);
      i = escape + 2 + digits;
    } else {
      value += Object.hasOwn(ESCAPES, code) ? ESCAPES[code] : notThisForm();
      i = escape + 2;
    }
  }
}

function singleQuoted(text: string): string {
  let value = '';
  let i = 1;
  for (;;) {
    const quote = text.indexOf("'", i);
    if (quote === -1) {
      notThisForm();
    }
    value += text.slice(i, quote);
    if (text[quote + 1] !== "'") {
      restIsComment(text, quote + 1);
      return value;
    }
    value += "'";
    i = quote + 2;
  }
}

function flowSequence(text: string): string[] {
  const end = text.indexOf(']');
  if (end === -1) {
    notThisForm();
  }
  restIsComment(text, end + 1);
  const inside = text.slice(1, end);
  if (/^ *$/.test(inside)) {
    return [];
  }
  return inside.split(',').map(item => {
    let start = 0;
    while (item.charCodeAt(start) === 0x20) {
      start++;
    }
    const word = withoutTrailingSpaces(item.slice(start));
    return FLOW_WORD.test(word) ? word : notThisForm();
  });
}

/** A plain scalar on one line (already stripped of trailing spaces). */
function plain(text: string): string {
  const first = text[0];
  if (
    INDICATORS.has(first) &&
    !(first === '-' && text.length > 1 && text[1] !== ' ')
  ) {
    notThisForm();
  }
  if (
    text.includes(' #') ||
    text.includes(': ') ||
    text.endsWith(':') ||
    /[[\]{}]/.test(text)
  ) {
    notThisForm();
  }
  return text;
}
