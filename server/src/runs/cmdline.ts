/**
 * Command lines as a POSIX shell reads them, for `--cmdline STEP='…'`, the panel's raw command-line
 * field, and "copy as command". Only quoting is interpreted: no variables, globs or operators, since
 * the result is executed directly, not by a shell.
 */

/** Splits a command line into argv: single quotes, double quotes and backslashes as in sh. */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end === -1) {
        throw new Error(`Unclosed single quote in the command line: ${line}`);
      }
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      i++;
      for (; i < line.length && line[i] !== '"'; i++) {
        // Inside double quotes a backslash only escapes these, as in sh.
        if (
          line[i] === '\\' &&
          i + 1 < line.length &&
          '"\\$`\n'.includes(line[i + 1])
        ) {
          i++;
        }
        word += line[i];
      }
      if (i >= line.length) {
        throw new Error(`Unclosed double quote in the command line: ${line}`);
      }
      inWord = true;
    } else if (c === '\\') {
      if (i + 1 < line.length) {
        word += line[++i];
      }
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) {
        words.push(word);
        word = '';
        inWord = false;
      }
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) {
    words.push(word);
  }
  return words;
}

/** Quotes one word so that a POSIX shell (and `splitCommandLine`) reads it back unchanged. */
export function quoteWord(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) {
    return word;
  }
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Joins argv into one command line that `splitCommandLine` turns back into the same argv. */
export function joinCommandLine(argv: string[]): string {
  return argv.map(quoteWord).join(' ');
}
