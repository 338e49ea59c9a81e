import { request } from 'node:http';

/**
 * Asks the Docker Engine at a unix socket whether it answers (`GET /_ping`), within a deadline,
 * and says why not in a sentence when it does not. Never hangs on a dead daemon.
 */
export function pingDocker(
  socketPath: string,
  timeoutMs = 2000
): Promise<{ ok: true } | { ok: false; reason: string }> {
  return new Promise(resolve => {
    const req = request(
      { socketPath, path: '/_ping', method: 'GET', timeout: timeoutMs },
      res => {
        res.resume();
        resolve(
          res.statusCode === 200
            ? { ok: true }
            : {
                ok: false,
                reason: `the daemon at ${socketPath} answered HTTP ${res.statusCode}`
              }
        );
      }
    );
    req.on('timeout', () => {
      req.destroy();
      resolve({
        ok: false,
        reason: `the daemon at ${socketPath} did not answer in ${timeoutMs} ms`
      });
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      const reason =
        error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
          ? `no daemon at ${socketPath}`
          : error.code === 'EACCES'
            ? `no permission to use ${socketPath}`
            : `cannot reach ${socketPath} (${error.message})`;
      resolve({ ok: false, reason });
    });
    req.end();
  });
}
