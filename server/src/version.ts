import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The server's own version, from its package.json (read once: it does not change at run time). */
export const SERVER_VERSION: string = (
  JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;
