#!/usr/bin/env node
/**
 * `reproserver`: the command-line face of the companion server. Each command is a thin shell over
 * the same modules the HTTP API uses.
 */
import { SERVER_VERSION } from '../version';
import { BUILD_USAGE, buildCommand } from './build';
import { inspectCommand } from './inspect';
import { RUN_USAGE, runCommand } from './run';
import { SERVE_USAGE, serveCommand } from './serve';
import { errorMessage } from '../describe';

const USAGE = `Usage: reproserver <command> [options]

Commands:
  build PACKAGE              Build (or find) the package's image; prints its reference.
  inspect PACKAGE [--json]   Describe a ReproZip package: runs, inputs, outputs, warnings.
  run PACKAGE --out DIR …    Run a package with changed arguments, environment or inputs.
  serve [options]            Run the companion server of the JupyterLab extension.

  ${BUILD_USAGE.replace(/\n/g, '\n  ')}

  ${RUN_USAGE.replace(/\n/g, '\n  ')}

  ${SERVE_USAGE.replace(/\n/g, '\n  ')}

reproserver --version prints the version.`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  build: buildCommand,
  inspect: inspectCommand,
  run: runCommand,
  serve: serveCommand
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === 'version') {
    console.log(SERVER_VERSION);
    return 0;
  }
  if (
    command === undefined ||
    command === '--help' ||
    command === '-h' ||
    command === 'help'
  ) {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    console.error(
      `reproserver: unknown command "${command}". Run "reproserver --help" for the list.`
    );
    return 2;
  }
  return run(rest);
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
