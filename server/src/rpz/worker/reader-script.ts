/**
 * Where the reader process's script is. A child process needs a JavaScript file, and the server
 * runs in three shapes:
 * - compiled by tsc (`server/dist`): `reader-process.js` sits beside this file;
 * - bundled by esbuild for the Python package (`bin/reproserver.js`): `scripts/bundle-server.mjs`
 *   writes `bin/reader-process.js` beside the bundle, which is this code's `__dirname` there;
 * - from the TypeScript sources (jest with ts-jest): there is only `reader-process.ts`, so it is
 *   bundled here with esbuild (a development dependency) into `node_modules/.cache`, named by
 *   the hash of the output: always built from the sources being tested, never stale.
 * `REPROSERVER_READER_SCRIPT` names another file (for debugging a reader).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const SCRIPT = 'reader-process';

let fromSources: string | undefined;

/** The reader process's script; throws with what to do when there is none. */
export function readerScript(): string {
  const chosen = process.env.REPROSERVER_READER_SCRIPT;
  if (chosen) {
    return chosen;
  }
  const compiled = join(__dirname, `${SCRIPT}.js`);
  if (existsSync(compiled)) {
    return compiled;
  }
  const source = join(__dirname, `${SCRIPT}.ts`);
  if (existsSync(source)) {
    fromSources ??= bundleSources(source);
    return fromSources;
  }
  throw new Error(
    `The package reader's script is missing (no ${compiled}): build the server with "npm run build".`
  );
}

/**
 * The esbuild command (a development dependency; absent from installed copies), run as a one-shot
 * process: its JavaScript API keeps a service process alive, which would keep a test run from
 * ending.
 */
function esbuildCommand(): { command: string; nodeModules: string } {
  // A computed name: the bundler must not look for esbuild when bundling the shipped server.
  const name = 'esbuild';
  try {
    const manifest = require.resolve(`${name}/package.json`);
    return {
      command: join(dirname(manifest), 'bin', name),
      nodeModules: dirname(dirname(manifest))
    };
  } catch (error) {
    throw new Error(
      `Running the server from its TypeScript sources needs esbuild to build the package reader (npm ci): ${String(error)}`
    );
  }
}

function bundleSources(source: string): string {
  const { command, nodeModules } = esbuildCommand();
  const code = execFileSync(
    command,
    [
      source,
      '--bundle',
      '--platform=node',
      '--target=node20',
      '--format=cjs',
      // Dependencies load from node_modules at run time, as in the compiled server.
      '--packages=external',
      '--log-level=error'
    ],
    { maxBuffer: 64 * 1024 * 1024 }
  );
  const hash = createHash('sha256').update(code).digest('hex').slice(0, 16);
  // Inside node_modules, so that the script's `require`s find the server's dependencies.
  const cache = join(nodeModules, '.cache', 'reproserver');
  const target = join(cache, `${SCRIPT}-${hash}.js`);
  if (!existsSync(target)) {
    mkdirSync(cache, { recursive: true });
    const partial = `${target}.${process.pid}.partial`;
    writeFileSync(partial, code);
    renameSync(partial, target);
  }
  return target;
}
