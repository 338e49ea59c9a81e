import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The compiled CLI; integration tests run the real program, as users do. */
export const CLI = resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');

export interface RunningServer {
  url: string;
  stateDir: string;
  token: string;
  process: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/**
 * A private file holding the token, as jupyter-server-proxy hands it over (the server reads it
 * once and deletes it): never in the server's environment.
 */
export function tokenHandover(
  token: string,
  user?: { uid: number; gid: number }
): string {
  const folder = mkdtempSync(join(tmpdir(), 'reproserver-token-'));
  const file = join(folder, 'token');
  writeFileSync(file, token, { mode: 0o600 });
  if (user) {
    chownSync(folder, user.uid, user.gid);
    chownSync(file, user.uid, user.gid);
  }
  return file;
}

/** Starts `reproserver serve` on a free loopback port and waits until it says where it listens. */
export async function startServer(
  env: Record<string, string> = {},
  options: {
    stateDir?: string;
    token?: string;
    /** Run the server as this user (the test runs as root); its state folder must be its own. */
    user?: { uid: number; gid: number };
  } = {}
): Promise<RunningServer> {
  const token =
    options.token ?? 'test-token-' + Math.random().toString(36).slice(2);
  const stateDir =
    options.stateDir ?? mkdtempSync(join(tmpdir(), 'reproserver-state-'));
  const child = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--port',
      '0',
      '--state',
      stateDir,
      '--token-from',
      tokenHandover(token, options.user)
    ],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options.user
    }
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`server did not start:\n${output}`)),
      15000
    );
    const onData = (): void => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolvePromise(match[1]);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', code => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  const exited = new Promise<number | null>(r =>
    child.once('exit', code => r(code))
  );
  return {
    url,
    stateDir,
    token,
    process: child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) {
        child.kill(signal);
      }
      return exited;
    }
  };
}
