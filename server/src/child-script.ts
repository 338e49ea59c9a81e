/**
 * Where the script of one of the server's own child processes is (the package reader, the
 * sandbox's spawner). A child process needs a JavaScript file, and the server runs in three
 * shapes:
 * - compiled by tsc (`server/dist`): `NAME.js` sits beside the module that starts it;
 * - bundled by esbuild for the Python package (`bin/reproserver.js`): `scripts/bundle-server.mjs`
 *   writes `bin/NAME.js` beside the bundle, which is that module's `__dirname` there;
 * - from the TypeScript sources (jest with ts-jest): there is only `NAME.ts`, so it is bundled
 *   here with esbuild (a development dependency) into `node_modules/.cache`, named by the hash of
 *   the output: always built from the sources being tested, never stale.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const fromSources = new Map<string, string>();

/**
 * The script `name` beside `dir` (the `__dirname` of the module that starts it); throws with what
 * to do when there is none.
 */
export function childScript(dir: string, name: string): string {
  const compiled = join(dir, `${name}.js`);
  if (existsSync(compiled)) {
    return compiled;
  }
  const source = join(dir, `${name}.ts`);
  if (existsSync(source)) {
    let built = fromSources.get(source);
    if (built === undefined) {
      built = bundleSources(source, name);
      fromSources.set(source, built);
    }
    return built;
  }
  throw new Error(
    `The server's ${name} script is missing (no ${compiled}): build the server with "npm run build".`
  );
}

/**
 * The esbuild command (a development dependency; absent from installed copies), run as a one-shot
 * process: its JavaScript API keeps a service process alive, which would keep a test run from
 * ending.
 */
function esbuildCommand(name: string): {
  command: string;
  nodeModules: string;
} {
  // A computed name: the bundler must not look for esbuild when bundling the shipped server.
  const tool = 'esbuild';
  try {
    const manifest = require.resolve(`${tool}/package.json`);
    return {
      command: join(dirname(manifest), 'bin', tool),
      nodeModules: dirname(dirname(manifest))
    };
  } catch (error) {
    throw new Error(
      `Running the server from its TypeScript sources needs esbuild to build its ${name} script (npm ci): ${String(error)}`
    );
  }
}

function bundleSources(source: string, name: string): string {
  const { command, nodeModules } = esbuildCommand(name);
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
  const target = join(cache, `${name}-${hash}.js`);
  if (!existsSync(target)) {
    mkdirSync(cache, { recursive: true });
    const partial = `${target}.${process.pid}.partial`;
    writeFileSync(partial, code);
    renameSync(partial, target);
  }
  return target;
}
