#!/usr/bin/env node
/**
 * `reproserver`: the command-line face of the companion server. Each command is a thin shell over
 * the same modules the HTTP API uses.
 *
 * Start-up time matters (`reproserver --version`, `inspect` in scripts): this file imports only
 * the usage texts and the parser. A command's module, and what it needs (Docker's client, SQLite,
 * the HTTP server…), is loaded when that command runs; `--help` and bad options are answered
 * before. `bench/cli/startup.mjs` measures it.
 */
import { errorMessage } from '../describe';
import { SERVER_VERSION } from '../version';
import { parseCommandArgs, usageMessage, UsageError } from './args';
import { isCommandName, type CommandName } from './command-names';
import { enableCompileCache } from './compile-cache';
import { directStderr, directStdout } from './stdio';
import { SPECS, USAGE } from './usage';
import type * as BuildModule from './build';
import type * as FetchModule from './fetch';
import type * as InspectModule from './inspect';
import type * as RunModule from './run';
import type * as ServeModule from './serve';
import type * as SweepModule from './sweep';
import type * as DiffModule from './diff';
import type * as CheckDeterminismModule from './check-determinism';
import type * as PrepareModule from './prepare';
import type * as UsersModule from './users';

type Command = (args: string[]) => Promise<number>;

/**
 * Each command's module, loaded on demand: `require` inside a function stays lazy under tsc's
 * CommonJS output and in the esbuild bundle (scripts/bundle-server.mjs). (A dynamic `import()`
 * would need ESM file names here.) The type imports are erased.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
const COMMANDS: Record<CommandName, () => Command> = {
  build: () => (require('./build') as typeof BuildModule).buildCommand,
  fetch: () => (require('./fetch') as typeof FetchModule).fetchCommand,
  inspect: () => (require('./inspect') as typeof InspectModule).inspectCommand,
  run: () => (require('./run') as typeof RunModule).runCommand,
  serve: () => (require('./serve') as typeof ServeModule).serveCommand,
  sweep: () => (require('./sweep') as typeof SweepModule).sweepCommand,
  diff: () => (require('./diff') as typeof DiffModule).diffCommand,
  prepare: () => (require('./prepare') as typeof PrepareModule).prepareCommand,
  users: () => (require('./users') as typeof UsersModule).usersCommand,
  'check-determinism': () =>
    (require('./check-determinism') as typeof CheckDeterminismModule)
      .checkDeterminismCommand
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** A line on stdout, or on stderr, without making `process.stdout` (see `stdio.ts`). */
const say = (text: string) => directStdout.write(`${text}\n`);
const complain = (text: string) => directStderr.write(`${text}\n`);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === 'version') {
    say(SERVER_VERSION);
    return 0;
  }
  if (command === 'help' && rest.length > 0 && SPECS[rest[0]]) {
    say(SPECS[rest[0]].usage);
    return 0;
  }
  if (
    command === undefined ||
    command === '--help' ||
    command === '-h' ||
    command === 'help'
  ) {
    (command === undefined ? complain : say)(USAGE);
    return command === undefined ? 2 : 0;
  }
  const spec = SPECS[command];
  const load = isCommandName(command) ? COMMANDS[command] : undefined;
  if (!spec || !load) {
    complain(
      `reproserver: unknown command "${command}". Run "reproserver --help" for the list.`
    );
    return 2;
  }
  // Answered here, before the command's module loads.
  try {
    if (parseCommandArgs(spec, rest).help) {
      say(spec.usage);
      return 0;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      directStderr.write(usageMessage(spec, error));
      return 2;
    }
    throw error;
  }
  // Before the command's module loads, so that its compiled code is kept for the next run.
  enableCompileCache(process.env);
  return load()(rest);
}

main(process.argv.slice(2)).then(
  code => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`reproserver: ${errorMessage(error)}`);
    process.exitCode = 1;
  }
);
