/** The real companion server process and plain HTTP calls to it, as the API benchmarks use them. */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'server', 'package.json'));
const { WebSocket } = require('ws');
export const SERVER_CLI = join(root, 'server', 'dist', 'cli', 'main.js');

/**
 * Starts `reproserver serve` on a free port with a state folder and extra environment; resolves
 * with the child and its URL once it says it listens.
 */
export function startServer(stateDir, env) {
  const child = spawn(
    process.execPath,
    [SERVER_CLI, 'serve', '--port', '0', '--state', stateDir],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] }
  );
  return new Promise((resolvePromise, reject) => {
    let out = '';
    child.stdout.on('data', chunk => {
      out += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match) resolvePromise({ child, url: match[1] });
    });
    child.on('exit', code => reject(new Error(`server exited ${code}`)));
  });
}

/**
 * One request with the token; a Buffer body goes as bytes, anything else as JSON. Resolves with
 * the status, the text, the parsed JSON (null when empty or not JSON) and the time it took.
 */
export function call(url, token, method, path, body) {
  return new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint();
    const raw = Buffer.isBuffer(body);
    const req = request(
      new URL(path, url),
      {
        method,
        headers: {
          'x-reproserver-token': token,
          'content-type': raw ? 'application/octet-stream' : 'application/json'
        }
      },
      res => {
        let text = '';
        res.on('data', c => (text += c));
        res.on('end', () => {
          let parsed = null;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            parsed = null;
          }
          resolvePromise({
            status: res.statusCode,
            text,
            body: parsed,
            ms: Number(process.hrtime.bigint() - started) / 1e6
          });
        });
      }
    );
    req.on('error', reject);
    req.end(raw ? body : body === undefined ? undefined : JSON.stringify(body));
  });
}

/**
 * A server on a fresh workspace holding one package (`package.rpz`, a copy of `rpz`), with its
 * own state folder under a temporary `base` and a random token: what the sweep benchmarks start.
 * Resolves with the child, `api(method, path, body)`, `runEnded(id)` (resolves when the run's
 * events socket closes, after its last event: its end, timed without polling) and `base` (the
 * caller removes it).
 */
export async function serverOnPackage(prefix, rpz, env) {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const workspace = join(base, 'workspace');
  mkdirSync(workspace);
  copyFileSync(rpz, join(workspace, 'package.rpz'));
  const token = 'bench-' + Math.random().toString(36).slice(2);
  const { child, url } = await startServer(join(base, 'state'), {
    REPROSERVER_WORKSPACE: workspace,
    REPROSERVER_TOKEN: token,
    ...env
  });
  const api = (method, path, body) => call(url, token, method, path, body);
  const runEnded = id =>
    new Promise((resolvePromise, reject) => {
      const address = new URL(`/api/runs/${id}/events`, url);
      address.protocol = 'ws:';
      const socket = new WebSocket(address, ['reproserver'], {
        headers: { 'x-reproserver-token': token }
      });
      socket.on('error', reject);
      socket.on('close', code =>
        code === 1000
          ? resolvePromise()
          : reject(new Error(`run ${id}: events socket closed with ${code}`))
      );
    });
  return { child, api, runEnded, base };
}
