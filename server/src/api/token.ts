import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ServerConfig } from '../config';

/**
 * The server's token: the configured one, or a fresh random one written to the token file
 * (readable only by the user) so that other local clients such as the CLI can find it.
 */
export function resolveToken(config: ServerConfig): {
  token: string;
  file?: string;
} {
  if (config.token) {
    return { token: config.token };
  }
  const token = randomBytes(32).toString('hex');
  const file = config.tokenFile ?? join(config.stateDir, 'token');
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, token + '\n', { mode: 0o600 });
  return { token, file };
}
