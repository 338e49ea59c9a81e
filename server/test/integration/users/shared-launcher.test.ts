/**
 * A user's JupyterLab on a shared server, through the real launcher: a real Jupyter server (the
 * project's .venv, with jupyter-server-proxy and jupyterlab_reproserver as users install them)
 * whose spawner environment names the shared server's port and this user's token
 * (`REPROSERVER_SHARED_PORT`, `REPROSERVER_USER_TOKEN`). The proxy then starts no server of its
 * own and forwards `…/reproserver/` to the shared one with this user's token: a run started
 * through Jupyter is that user's, and another user does not see it. Half a configuration is said
 * in Jupyter's log, and nothing is served.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type {
  PackageSummary,
  RunList,
  RunRecord
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { reproserver } from '../../helpers/cli-process';
import { startServer, type RunningServer } from '../../helpers/server-process';
import { makeWorkspace } from '../api/workspace';

jest.setTimeout(120_000);

const JUPYTER = resolve(
  __dirname,
  '..',
  '..',
  '..',
  '..',
  '.venv',
  'bin',
  'jupyter'
);

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>(done => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as { port: number };
  await new Promise(done => probe.close(done));
  return port;
}

interface RunningJupyter {
  url: string;
  token: string;
  process: ChildProcess;
  log: () => string;
  stop: () => Promise<void>;
}

/** `jupyter server` on a free loopback port, with the spawner's variables `env`. */
async function startJupyter(
  env: Record<string, string>
): Promise<RunningJupyter> {
  const port = await freePort();
  const token = 'jupyter-' + Math.random().toString(36).slice(2);
  const home = mkdtempSync(join(tmpdir(), 'reproserver-jupyter-'));
  const child = spawn(
    JUPYTER,
    [
      'server',
      '--no-browser',
      `--ServerApp.ip=127.0.0.1`,
      `--ServerApp.port=${port}`,
      '--ServerApp.port_retries=0',
      `--IdentityProvider.token=${token}`,
      `--ServerApp.root_dir=${home}`,
      ...(process.getuid?.() === 0 ? ['--allow-root'] : [])
    ],
    {
      cwd: home,
      env: {
        ...process.env,
        HOME: home,
        JUPYTER_CONFIG_DIR: join(home, '.jupyter'),
        JUPYTER_RUNTIME_DIR: join(home, 'runtime'),
        ...env
      },
      stdio: ['ignore', 'pipe', 'pipe']
    }
  );
  let log = '';
  child.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise(done => child.once('exit', done));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const answer = await fetch(`${url}/api/status`, {
      headers: { authorization: `token ${token}` }
    }).catch(() => undefined);
    if (answer?.ok) {
      break;
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`jupyter server did not start:\n${log}`);
    }
    await new Promise(done => setTimeout(done, 200));
  }
  return {
    url,
    token,
    process: child,
    log: () => log,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    }
  };
}

/** Every process below `pid`. */
function descendants(pid: number): number[] {
  const found = [pid];
  for (let i = 0; i < found.length; i++) {
    for (const task of readdirSync(`/proc/${found[i]}/task`)) {
      found.push(
        ...readFileSync(`/proc/${found[i]}/task/${task}/children`, 'utf8')
          .split(/\s+/)
          .filter(Boolean)
          .map(Number)
      );
    }
  }
  return found.slice(1);
}

describe('a JupyterLab user of a shared server', () => {
  const usersFile = join(
    mkdtempSync(join(tmpdir(), 'reproserver-users-')),
    'users'
  );
  const tokens: Record<string, string> = {};
  let shared: RunningServer;
  let port: number;

  beforeAll(async () => {
    for (const name of ['alice', 'bob']) {
      const added = await reproserver([
        'users',
        'add',
        name,
        '--file',
        usersFile
      ]);
      expect(added.code).toBe(0);
      tokens[name] = added.stdout.trim();
    }
    shared = await startServer({
      REPROSERVER_WORKSPACE: makeWorkspace().root,
      REPROSERVER_USERS_FILE: usersFile
    });
    port = Number(new URL(shared.url).port);
  });

  afterAll(async () => {
    await shared?.stop();
  });

  it('reaches the shared server through Jupyter, as its own user, and starts no server', async () => {
    const jupyter = await startJupyter({
      REPROSERVER_SHARED_PORT: String(port),
      REPROSERVER_USER_TOKEN: tokens.alice
    });
    try {
      const viaJupyter = async <T>(
        method: string,
        path: string,
        body?: unknown
      ): Promise<{ status: number; body: T }> => {
        const answer = await fetch(`${jupyter.url}/reproserver${path}`, {
          method,
          headers: {
            authorization: `token ${jupyter.token}`,
            'content-type': 'application/json'
          },
          body: body === undefined ? undefined : JSON.stringify(body)
        });
        return { status: answer.status, body: (await answer.json()) as T };
      };
      const pkg = await viaJupyter<PackageSummary>('POST', '/api/packages', {
        path: 'packages/slow-printer.rpz'
      });
      expect(pkg.status).toBe(200);
      const run = await viaJupyter<RunRecord>('POST', '/api/runs', {
        package: pkg.body.sha256,
        backend: 'sandbox',
        acceptWeakIsolation: true,
        edits: { stepEdits: [{ step: 0, args: [{ index: 2, value: '1' }] }] }
      });
      expect(run.status).toBe(202);

      // The run is alice's: hers through Jupyter and directly, not bob's.
      const listed = await viaJupyter<RunList>('GET', '/api/runs');
      expect(listed.body.runs.map(r => r.id)).toEqual([run.body.id]);
      const alice = new ApiClient(shared, {
        'x-reproserver-token': tokens.alice
      });
      const bob = new ApiClient(shared, { 'x-reproserver-token': tokens.bob });
      expect(
        (await alice.call<RunList>('GET', '/api/runs')).body.runs.map(r => r.id)
      ).toEqual([run.body.id]);
      expect((await bob.call<RunList>('GET', '/api/runs')).body.runs).toEqual(
        []
      );
      expect((await bob.call('GET', `/api/runs/${run.body.id}`)).status).toBe(
        404
      );

      // The launcher started no companion server below Jupyter.
      const below = descendants(jupyter.process.pid!).map(pid =>
        readFileSync(`/proc/${pid}/cmdline`, 'latin1')
      );
      // (`reproserver serve …`: an argument that is exactly `serve`.)
      expect(below.filter(cmd => cmd.includes('\0serve\0'))).toEqual([]);
    } finally {
      await jupyter.stop();
    }
  });

  it('says in Jupyter’s log what is missing when only the port is set', async () => {
    const jupyter = await startJupyter({
      REPROSERVER_SHARED_PORT: String(port)
    });
    try {
      const answer = await fetch(`${jupyter.url}/reproserver/api/runs`, {
        headers: { authorization: `token ${jupyter.token}` }
      });
      expect(answer.ok).toBe(false);
      expect(jupyter.log()).toContain(
        'A shared ReproServer needs both REPROSERVER_SHARED_PORT (a port number) and REPROSERVER_USER_TOKEN'
      );
    } finally {
      await jupyter.stop();
    }
  });
});
