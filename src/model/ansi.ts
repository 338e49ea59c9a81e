/**
 * ANSI SGR colour codes in program output, turned into styled segments. Other escape sequences
 * (cursor moves, titles) are dropped. The state carries over between chunks of the same stream.
 */

/** The current text style. */
export interface IAnsiState {
  fg: number | null;
  bg: number | null;
  bold: boolean;
  italic: boolean;
  underline: boolean;
  /** An escape sequence cut at the end of the previous chunk. */
  pending: string;
}

/** A run of text with one style. */
export interface IAnsiSegment {
  text: string;
  /** CSS classes, `jp-ReproServer-ansi-*`. */
  classes: string[];
}

export function initialAnsiState(): IAnsiState {
  return {
    fg: null,
    bg: null,
    bold: false,
    italic: false,
    underline: false,
    pending: ''
  };
}

// CSI sequences, OSC sequences (ended by BEL or ST), and other two-character escapes.
const ESCAPE =
  /\x1b(?:\[([0-?]*)[ -/]*([@-~])|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;

/** Splits `text` into styled segments, updating `state`. */
export function parseAnsi(text: string, state: IAnsiState): IAnsiSegment[] {
  let input = state.pending + text;
  state.pending = '';
  // Keep an unfinished escape sequence for the next chunk.
  const lastEsc = input.lastIndexOf('\x1b');
  if (lastEsc !== -1) {
    const rest = input.slice(lastEsc);
    ESCAPE.lastIndex = 0;
    const m = ESCAPE.exec(rest);
    if (!m || m.index !== 0) {
      if (rest.length < 32) {
        state.pending = rest;
        input = input.slice(0, lastEsc);
      }
    }
  }
  const segments: IAnsiSegment[] = [];
  let last = 0;
  ESCAPE.lastIndex = 0;
  let match: RegExpExecArray | null;
  while ((match = ESCAPE.exec(input)) !== null) {
    if (match.index > last) {
      push(segments, input.slice(last, match.index), state);
    }
    last = ESCAPE.lastIndex;
    if (match[2] === 'm') {
      applySgr(match[1] ?? '', state);
    }
  }
  if (last < input.length) {
    push(segments, input.slice(last), state);
  }
  return segments;
}

function push(segments: IAnsiSegment[], text: string, state: IAnsiState) {
  const classes: string[] = [];
  if (state.fg !== null) {
    classes.push(`jp-ReproServer-ansi-fg${state.fg}`);
  }
  if (state.bg !== null) {
    classes.push(`jp-ReproServer-ansi-bg${state.bg}`);
  }
  if (state.bold) {
    classes.push('jp-ReproServer-ansi-bold');
  }
  if (state.italic) {
    classes.push('jp-ReproServer-ansi-italic');
  }
  if (state.underline) {
    classes.push('jp-ReproServer-ansi-underline');
  }
  segments.push({ text, classes });
}

function applySgr(params: string, state: IAnsiState): void {
  const codes = params === '' ? [0] : params.split(';').map(p => Number(p));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) {
      Object.assign(state, {
        fg: null,
        bg: null,
        bold: false,
        italic: false,
        underline: false
      });
    } else if (c === 1) {
      state.bold = true;
    } else if (c === 3) {
      state.italic = true;
    } else if (c === 4) {
      state.underline = true;
    } else if (c === 22) {
      state.bold = false;
    } else if (c === 23) {
      state.italic = false;
    } else if (c === 24) {
      state.underline = false;
    } else if (c >= 30 && c <= 37) {
      state.fg = c - 30;
    } else if (c >= 90 && c <= 97) {
      state.fg = c - 90 + 8;
    } else if (c === 39) {
      state.fg = null;
    } else if (c >= 40 && c <= 47) {
      state.bg = c - 40;
    } else if (c >= 100 && c <= 107) {
      state.bg = c - 100 + 8;
    } else if (c === 49) {
      state.bg = null;
    } else if (c === 38 || c === 48) {
      // 256-colour and true-colour forms: map the 16 basic ones, skip the rest.
      const mode = codes[i + 1];
      if (mode === 5) {
        const n = codes[i + 2];
        if (n !== undefined && n < 16) {
          if (c === 38) {
            state.fg = n;
          } else {
            state.bg = n;
          }
        }
        i += 2;
      } else if (mode === 2) {
        i += 4;
      }
    }
  }
}
