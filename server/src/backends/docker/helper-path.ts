import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The static `rpz-exec` binary that the server build compiles into `dist/helpers/`; found from the
 * compiled code (`dist/backends/docker`) or from the sources under test (`src/backends/docker`).
 */
export function helperPath(): string {
  const candidates = [
    process.env.REPROSERVER_HELPER,
    join(__dirname, '..', '..', 'helpers', 'rpz-exec'),
    join(__dirname, '..', '..', '..', 'dist', 'helpers', 'rpz-exec')
  ].filter((p): p is string => typeof p === 'string' && p !== '');
  const found = candidates.find(p => existsSync(p));
  if (!found) {
    throw new Error(
      `The helper rpz-exec is missing (looked in ${candidates.join(', ')}): build the server with "npm run build".`
    );
  }
  return found;
}
