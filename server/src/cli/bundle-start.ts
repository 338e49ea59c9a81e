/**
 * What the bundled command line (jupyterlab_reproserver/server/bin/reproserver.js) runs first:
 * it loads the rest of the bundle through V8's code cache (`code-cache-loader.ts`), kept in the
 * cache folder's `code-v8/` and brought up to date when the command ends.
 */
import { join } from 'node:path';
import { cacheBaseDir, ensurePrivateDir } from './cache-dir';
import { CodeCacheLoader } from './code-cache-loader';
import { isCommandName } from './command-names';

/** Runs the bundle's `main` file for the command in `argv` (as `process.argv`). */
export function startBundle(
  main: string,
  argv: readonly string[] = process.argv,
  env: NodeJS.ProcessEnv = process.env
): CodeCacheLoader {
  const cacheDir = codeCacheDir(env);
  // One entry per command; `--version`, `--help` and typos share one.
  const command = isCommandName(argv[2]) ? argv[2] : 'other';
  const loader = new CodeCacheLoader(cacheDir, command);
  if (cacheDir !== null) {
    process.once('exit', () => loader.save());
  }
  loader.load(main);
  return loader;
}

/** The private folder of the code cache, or null when it is off or cannot be had. */
export function codeCacheDir(env: NodeJS.ProcessEnv): string | null {
  if (env.NODE_DISABLE_COMPILE_CACHE) {
    return null;
  }
  const directory = join(cacheBaseDir(env), 'code-v8');
  return ensurePrivateDir(directory) ? directory : null;
}
