/**
 * Command-line parsing for every `reproserver` command, on `node:util` `parseArgs`. Strict on
 * names (an option a command does not know is an error naming it), lenient on values (a value may
 * start with a dash: `--timeout -3` reaches the command, which says why -3 is wrong). This module
 * loads nothing but `node:util`: `main.ts` uses it before it knows which command to load.
 */
import { parseArgs as parseNodeArgs } from 'node:util';

/** One option of a command: a value (`--name value` or `--name=value`) or a boolean flag. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  /** May be given several times; every value is kept, in order. Otherwise the last one wins. */
  multiple?: boolean;
  /** One-letter alias (`-h`). */
  short?: string;
}

/** What a command accepts, and the usage printed with `--help` or after a mistake. */
export interface CommandSpec {
  /** `build`, `run`…: named in error sentences. */
  name: string;
  usage: string;
  options: Record<string, OptionSpec>;
}

/** A mistake on the command line: exit code 2, the sentence and the usage on stderr. */
export class UsageError extends Error {}

export interface ParsedArgs {
  positionals: string[];
  /** Each given option's values, in order; a boolean flag's value is `'true'`. */
  flags: Record<string, string[]>;
  /** `--help` or `-h` was given. */
  help: boolean;
}

/** Every command takes `--help`/`-h`. */
const HELP: OptionSpec = { type: 'boolean', short: 'h' };

/**
 * Splits `args` into positionals and options as `spec` declares them; everything after `--` is
 * positional. Throws a `UsageError` for an unknown option, a missing value, or a value given to
 * a boolean flag.
 */
export function parseCommandArgs(
  spec: CommandSpec,
  args: string[]
): ParsedArgs {
  const options: Record<string, OptionSpec> = { help: HELP, ...spec.options };
  // Not strict: node's strict mode refuses values that start with a dash, and its sentences name
  // no command. Unknown names are refused below, with ours.
  const { tokens } = parseNodeArgs({
    args,
    options: Object.fromEntries(
      Object.entries(options).map(([name, option]) => [
        name,
        { type: option.type, ...(option.short ? { short: option.short } : {}) }
      ])
    ),
    strict: false,
    allowPositionals: true,
    tokens: true
  });
  const positionals: string[] = [];
  const flags: Record<string, string[]> = {};
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') {
      continue;
    }
    const option = Object.hasOwn(options, token.name)
      ? options[token.name]
      : undefined;
    if (option === undefined) {
      throw new UsageError(`unknown option ${token.rawName}.`);
    }
    let value: string;
    if (option.type === 'boolean') {
      if (token.inlineValue) {
        throw new UsageError(`The option --${token.name} takes no value.`);
      }
      value = 'true';
    } else {
      if (token.value === undefined) {
        throw new UsageError(`The option --${token.name} needs a value.`);
      }
      value = token.value;
    }
    flags[token.name] =
      option.multiple === true
        ? [...(flags[token.name] ?? []), value]
        : [value];
  }
  const help = flags.help !== undefined;
  delete flags.help;
  return { positionals, flags, help };
}

/** The sentence and usage for a `UsageError`, as the commands print them on stderr. */
export function usageMessage(spec: CommandSpec, error: UsageError): string {
  return `reproserver ${spec.name}: ${error.message}\n${spec.usage}\n`;
}

/**
 * A command's arguments, or its exit code when it is over before it starts: 0 after printing its
 * usage for `--help`, 2 after a usage error (the sentence, then the usage, on stderr).
 */
export function argsOrExit(
  spec: CommandSpec,
  args: string[],
  io: {
    stdout: Pick<NodeJS.WritableStream, 'write'>;
    stderr: Pick<NodeJS.WritableStream, 'write'>;
  } = {
    stdout: process.stdout,
    stderr: process.stderr
  }
): ParsedArgs | number {
  let parsed: ParsedArgs;
  try {
    parsed = parseCommandArgs(spec, args);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(usageMessage(spec, error));
      return 2;
    }
    throw error;
  }
  if (parsed.help) {
    io.stdout.write(`${spec.usage}\n`);
    return 0;
  }
  return parsed;
}

/** The last value given for each flag, for flags that may appear once. */
export function lastValues(
  flags: Record<string, string[]>
): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(flags).map(([k, v]) => [k, v[v.length - 1]])
  );
}
