/**
 * The server's token never sits in its environment: handed over in a private file that the
 * server reads once and deletes (as jupyter-server-proxy does), and a token given in the
 * environment is dropped before anything is started, so no reader process or experiment inherits
 * it. The real server process, read from outside through /proc.
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient } from '../../helpers/api-client';
import { CLI, startServer, tokenHandover } from '../../helpers/server-process';

jest.setTimeout(60_000);

/** The initial environment of a process, as any process allowed to trace it reads it. */
function environOf(pid: number): string {
  return readFileSync(`/proc/${pid}/environ`, 'latin1');
}

/** The server and every process below it. */
function processTree(pid: number): number[] {
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    for (const task of readdirSync(`/proc/${found[i]}/task`)) {
      const children = readFileSync(
        `/proc/${found[i]}/task/${task}/children`,
        'utf8'
      );
      found.push(...children.split(/\s+/).filter(Boolean).map(Number));
    }
  }
  return found;
}

/** Waits until the server has started its spare reader process. */
async function withChildren(pid: number): Promise<number[]> {
  for (let i = 0; i < 100; i++) {
    const tree = processTree(pid);
    if (tree.length > 1) {
      return tree;
    }
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  throw new Error('the server started no reader process');
}

describe('the server token', () => {
  it('is read from a handover file, which is deleted, and is in no environment', async () => {
    const token = 'handover-' + Math.random().toString(36).slice(2);
    const server = await startServer({}, { token });
    try {
      const reply = await new ApiClient(server).call('GET', '/api/backends');
      expect(reply.status).toBe(200);
      const cmdline = readFileSync(
        `/proc/${server.process.pid}/cmdline`,
        'utf8'
      ).split('\0');
      const file = cmdline[cmdline.indexOf('--token-from') + 1];
      expect(existsSync(file)).toBe(false);
      const tree = await withChildren(server.process.pid!);
      for (const pid of tree) {
        expect(environOf(pid)).not.toContain(token);
        expect(readFileSync(`/proc/${pid}/cmdline`, 'latin1')).not.toContain(
          token
        );
      }
    } finally {
      await server.stop();
    }
  });

  it('given in REPROSERVER_TOKEN, is passed to none of the processes it starts', async () => {
    const token = 'from-env-' + Math.random().toString(36).slice(2);
    const state = mkdtempSync(join(tmpdir(), 'reproserver-state-'));
    const child = spawn(
      process.execPath,
      [CLI, 'serve', '--port', '0', '--state', state],
      {
        env: { ...process.env, REPROSERVER_TOKEN: token },
        stdio: ['ignore', 'pipe', 'pipe']
      }
    );
    try {
      await new Promise<void>((resolve, reject) => {
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          if (output.includes('listening on')) {
            resolve();
          }
        });
        child.once('exit', code => reject(new Error(`exited ${code}`)));
      });
      const tree = await withChildren(child.pid!);
      // The server's own initial environment still holds it (the kernel keeps it): the reason
      // the handover file exists. What it starts does not.
      for (const pid of tree.slice(1)) {
        expect(environOf(pid)).not.toContain(token);
      }
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('is refused, with a sentence, from a file others may read', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'reproserver-token-'));
    const file = join(folder, 'token');
    writeFileSync(file, 'secret', { mode: 0o644 });
    const state = mkdtempSync(join(tmpdir(), 'reproserver-state-'));
    const { code, output } = await runServe(['--token-from', file], state);
    expect(code).not.toBe(0);
    expect(output).toContain('may be read by other users (mode 644)');
    // Refused files are deleted all the same: a token that leaked is not left lying there.
    expect(existsSync(file)).toBe(false);
    const missing = await runServe(['--token-from', file], state);
    expect(missing.output).toContain('Cannot read the token file');
  });

  it('is refused from an empty file, and from a link', async () => {
    const state = mkdtempSync(join(tmpdir(), 'reproserver-state-'));
    const empty = tokenHandover('');
    expect((await runServe(['--token-from', empty], state)).output).toContain(
      'must hold one token'
    );
    const real = tokenHandover('secret');
    const link = join(mkdtempSync(join(tmpdir(), 'reproserver-token-')), 'l');
    symlinkSync(real, link);
    expect((await runServe(['--token-from', link], state)).output).toContain(
      'Cannot read the token file'
    );
    expect(existsSync(real)).toBe(true);
  });
});

/** Runs `reproserver serve` expected to stop at once; its exit code and output. */
function runServe(
  args: string[],
  state: string
): Promise<{ code: number | null; output: string }> {
  return new Promise(resolve => {
    const child = spawn(
      process.execPath,
      [CLI, 'serve', '--port', '0', '--state', state, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', code => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
