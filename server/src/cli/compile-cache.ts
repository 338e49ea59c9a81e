/**
 * Keeps V8's compiled code of the command line's own modules between runs (Node's module compile
 * cache, Node.js ≥ 22.1), in the cache folder's `compile/`, for the command run from server/dist
 * (the npm package's). A command then starts without compiling its modules again. (The bundle
 * that the Python package ships loads its files through `code-cache-loader.ts` instead, whose
 * cache also holds the functions a command called: it saves several times more.)
 *
 * Node checks each entry against the source it was compiled from and its own version, so an
 * upgrade or an edited file recompiles rather than runs stale code; the folder must still be
 * private (`cache-dir.ts`), since what it holds is run. `NODE_DISABLE_COMPILE_CACHE=1` turns it
 * off, as for any Node program, and so does a Node.js that lacks it.
 */
import { join } from 'node:path';
import { cacheBaseDir, ensurePrivateDir } from './cache-dir';

interface ModuleWithCompileCache {
  enableCompileCache?: (directory: string) => unknown;
}

/** Enables the cache for the modules loaded from now on; returns its folder, or null when off. */
export function enableCompileCache(env: NodeJS.ProcessEnv): string | null {
  if (env.NODE_DISABLE_COMPILE_CACHE) {
    return null;
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeModule = require('node:module') as ModuleWithCompileCache;
  if (typeof nodeModule.enableCompileCache !== 'function') {
    return null;
  }
  const directory = join(cacheBaseDir(env), 'compile');
  if (!ensurePrivateDir(directory)) {
    return null;
  }
  try {
    nodeModule.enableCompileCache(directory);
    return directory;
  } catch {
    return null;
  }
}
