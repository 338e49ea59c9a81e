import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const SERVER = resolve(__dirname, '..', '..', '..');

/**
 * Throws when a source file of the server is newer than its compiled copy in dist/: tests that
 * start the real server (dist/cli/main.js) would otherwise test yesterday's code.
 */
export function assertFreshBuild(): void {
  const stale: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(path);
      } else if (
        entry.name.endsWith('.ts') &&
        !entry.name.endsWith('.test.ts')
      ) {
        const rel = relative(join(SERVER, 'src'), path);
        const compiled = join(SERVER, 'dist', rel.replace(/\.ts$/, '.js'));
        const built = statSync(compiled, { throwIfNoEntry: false });
        if (!built || built.mtimeMs < statSync(path).mtimeMs) {
          stale.push(`src/${rel}`);
        }
      }
    }
  };
  walk(join(SERVER, 'src'));
  if (stale.length > 0) {
    throw new Error(
      `server/dist is older than ${stale.slice(0, 5).join(', ')}${stale.length > 5 ? ` and ${stale.length - 5} more` : ''}: ` +
        'build it first ("npm run build --workspace server", which the test command does).'
    );
  }
}
