/**
 * `reproserver build PACKAGE`: builds (or finds) the Docker image of a package and prints its
 * reference. A thin shell over `buildImage`: progress goes to stderr, the reference to stdout, so
 * `image=$(reproserver build x.rpz)` works.
 */
import type { Writable } from 'node:stream';
import {
  buildImage,
  type BuildEvent,
  type BuildOptions,
  type BuildPhase
} from '../build';
import { errorMessage } from '../describe';
import { loadConfig } from '../config';
import { lastValues, parseArgs } from './args';

export const BUILD_USAGE = `Usage: reproserver build PACKAGE [options]

Builds the Docker image of a ReproZip package (or finds it in the engine or the registry) and
prints its reference.

Options:
  --registry HOST:PORT   Registry that caches images (default: $REGISTRY).
  --no-registry          Use no registry: build locally, push nothing.
  --repository NAME      Image repository (default: reproserver/rpz).
  --base-image IMAGE     Build on this image; needed when the package left out package files.
  --docker-socket PATH   Docker Engine socket (default: $DOCKER_SOCKET, $DOCKER_HOST, then
                         /var/run/docker.sock).
  --json                 Events as JSON lines on stderr, the result as JSON on stdout.`;

/** Where the command writes; replaceable for tests. */
export interface BuildIo {
  stdout: Pick<Writable, 'write'>;
  stderr: Pick<Writable, 'write'> & { isTTY?: boolean };
}

const FLAGS = [
  'registry',
  'no-registry',
  'repository',
  'base-image',
  'docker-socket',
  'json',
  'help'
];

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** Human progress on stderr: a self-rewriting line on a terminal, a line a second otherwise. */
function humanReporter(stderr: BuildIo['stderr']): (event: BuildEvent) => void {
  let lastLine = 0;
  let open = false;
  const endLine = (): void => {
    if (open) {
      stderr.write('\n');
      open = false;
    }
  };
  const names: Record<BuildPhase, string> = {
    'checking-cache': 'Checking the cache',
    pulling: 'Pulling',
    building: 'Building',
    pushing: 'Pushing',
    done: 'Done'
  };
  return event => {
    switch (event.type) {
      case 'phase':
        endLine();
        if (event.phase !== 'done') {
          stderr.write(`${names[event.phase]}…\n`);
        }
        break;
      case 'progress': {
        const now = Date.now();
        const total =
          event.totalBytes > 0 ? ` / ${megabytes(event.totalBytes)}` : '';
        const entries =
          event.phase === 'building' ? `, ${event.entries} entries` : '';
        const text = `  ${event.phase}: ${megabytes(event.bytes)}${total} MB${entries}`;
        if (stderr.isTTY) {
          stderr.write(`\r${text}\x1b[K`);
          open = true;
        } else if (now - lastLine >= 1000 || event.bytes === event.totalBytes) {
          stderr.write(`${text}\n`);
          lastLine = now;
        }
        break;
      }
      case 'log':
        endLine();
        stderr.write(
          event.level === 'warning'
            ? `Warning: ${event.message}\n`
            : `${event.message}\n`
        );
        break;
      case 'result':
      case 'error':
        endLine();
        break;
    }
  };
}

/** Runs `build`; returns the exit code (0 built or found, 1 failed, 2 usage). */
export async function buildCommand(
  args: string[],
  io: BuildIo = { stdout: process.stdout, stderr: process.stderr },
  env: Record<string, string | undefined> = process.env
): Promise<number> {
  // Unknown options first: the parser would take a value for them.
  const unknownFlag = args
    .filter(a => a.startsWith('--') && a !== '--')
    .map(a => a.slice(2).split('=')[0])
    .find(name => !FLAGS.includes(name));
  if (unknownFlag !== undefined) {
    io.stderr.write(
      `reproserver build: unknown option --${unknownFlag}.\n${BUILD_USAGE}\n`
    );
    return 2;
  }
  let parsed;
  try {
    parsed = parseArgs(args, ['no-registry', 'json', 'help']);
  } catch (error) {
    io.stderr.write(
      `reproserver build: ${errorMessage(error)}\n${BUILD_USAGE}\n`
    );
    return 2;
  }
  const flags = lastValues(parsed.flags);
  if (flags.help !== undefined) {
    io.stdout.write(`${BUILD_USAGE}\n`);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    io.stderr.write(
      `reproserver build: give exactly one package.\n${BUILD_USAGE}\n`
    );
    return 2;
  }
  if (flags['no-registry'] !== undefined && flags.registry !== undefined) {
    io.stderr.write(
      'reproserver build: give --registry or --no-registry, not both.\n'
    );
    return 2;
  }
  const json = flags.json !== undefined;
  try {
    const config = loadConfig(
      {
        'docker-socket': flags['docker-socket'],
        registry: flags.registry
      },
      env
    );
    const options: BuildOptions = {
      dockerSocket: config.dockerSocket,
      registry:
        flags['no-registry'] !== undefined ? undefined : config.registry,
      repository: flags.repository,
      baseImage: flags['base-image'],
      onEvent: json
        ? event => io.stderr.write(`${JSON.stringify(event)}\n`)
        : humanReporter(io.stderr)
    };
    const result = await buildImage(parsed.positionals[0], options);
    io.stdout.write(
      json ? `${JSON.stringify(result, null, 2)}\n` : `${result.image}\n`
    );
    return 0;
  } catch (error) {
    io.stderr.write(`${errorMessage(error)}\n`);
    return 1;
  }
}
