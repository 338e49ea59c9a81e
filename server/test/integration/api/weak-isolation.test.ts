/**
 * A run on a backend that isolates less than the user's files and the network never starts
 * silently: the API refuses it until the request says the user accepted (409), a server set to
 * refuse such runs refuses them whatever the request says (403), and the CLI needs
 * `--allow-weak-isolation`. The weak backend here is the real proot with its confinement turned
 * off (`REPROSERVER_CONFINE=off`), as on a kernel without Landlock.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  BackendsResponse,
  PackageSummary,
  RunRecord
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { example } from '../../helpers/examples';
import {
  CLI,
  startServer,
  type RunningServer
} from '../../helpers/server-process';
import { makeWorkspace } from './workspace';

jest.setTimeout(180_000);

const WEAK_SANDBOX = {
  REPROSERVER_SANDBOX: 'proot',
  REPROSERVER_CONFINE: 'off'
};

async function serverWith(
  env: Record<string, string>
): Promise<{ server: RunningServer; api: ApiClient; pkg: PackageSummary }> {
  const workspace = makeWorkspace();
  const server = await startServer({
    REPROSERVER_WORKSPACE: workspace.root,
    ...WEAK_SANDBOX,
    ...env
  });
  const api = new ApiClient(server);
  const reply = await api.call<PackageSummary>('POST', '/api/packages', {
    path: 'packages/shell-pipeline.rpz'
  });
  expect(reply.status).toBe(200);
  return { server, api, pkg: reply.body };
}

describe('runs with weak isolation, on a server that asks', () => {
  let server: RunningServer;
  let api: ApiClient;
  let pkg: PackageSummary;

  beforeAll(async () => {
    ({ server, api, pkg } = await serverWith({}));
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('states the sandbox as weak and the policy as ask', async () => {
    const reply = await api.call<BackendsResponse>('GET', '/api/backends');
    expect(reply.body.weakIsolation).toBe('ask');
    const sandbox = reply.body.backends.find(b => b.name === 'sandbox')!;
    expect(sandbox.available).toBe(true);
    expect(sandbox.isolation).toMatchObject({ files: false, network: false });
  });

  it('refuses a run the request did not accept, saying what the experiment could do', async () => {
    const reply = await api.call<{ error: { code: string; message: string } }>(
      'POST',
      '/api/runs',
      { package: pkg.sha256, backend: 'sandbox' }
    );
    expect(reply.status).toBe(409);
    expect(reply.body.error.code).toBe('weak-isolation-consent');
    expect(reply.body.error.message).toContain(
      'read, change and delete every file your account can reach'
    );
    expect(reply.body.error.message).toContain('--allow-weak-isolation');
    const runs = await api.call<{ runs: RunRecord[] }>(
      'GET',
      `/api/runs?package=${pkg.sha256}`
    );
    expect(runs.body.runs).toEqual([]);
  });

  it('starts it once accepted, and it runs to the end', async () => {
    const reply = await api.call<RunRecord>('POST', '/api/runs', {
      package: pkg.sha256,
      backend: 'sandbox',
      acceptWeakIsolation: true
    });
    expect(reply.status).toBe(202);
    const ended = await api.waitForEnd(reply.body.id);
    expect(ended.status).toBe('succeeded');
  });
});

describe('runs with weak isolation, on a server that refuses them', () => {
  it('refuses them even when the request accepts', async () => {
    const { server, api, pkg } = await serverWith({
      REPROSERVER_WEAK_ISOLATION: 'refuse'
    });
    try {
      const backends = await api.call<BackendsResponse>('GET', '/api/backends');
      expect(backends.body.weakIsolation).toBe('refuse');
      const reply = await api.call<{
        error: { code: string; message: string };
      }>('POST', '/api/runs', {
        package: pkg.sha256,
        backend: 'sandbox',
        acceptWeakIsolation: true
      });
      expect(reply.status).toBe(403);
      expect(reply.body.error.code).toBe('weak-isolation-refused');
    } finally {
      await server.stop();
    }
  });
});

describe('reproserver run with weak isolation', () => {
  const rpz = example('shell-pipeline').rpz;
  const cli = (
    args: string[]
  ): Promise<{ code: number | null; stderr: string }> =>
    new Promise(resolve => {
      const child = spawn(process.execPath, [CLI, 'run', rpz, ...args], {
        env: {
          ...process.env,
          ...WEAK_SANDBOX,
          REPROSERVER_STATE_DIR: mkdtempSync(join(tmpdir(), 'reproserver-cli-'))
        },
        stdio: ['ignore', 'ignore', 'pipe']
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('exit', code => resolve({ code, stderr }));
    });

  it('refuses without --allow-weak-isolation, and writes nothing', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'reproserver-out-')), 'out');
    const { code, stderr } = await cli(['--out', out, '--backend', 'sandbox']);
    expect(code).toBe(2);
    expect(stderr).toContain('does not isolate this experiment');
    expect(stderr).toContain('--allow-weak-isolation');
    expect(existsSync(out)).toBe(false);
  });

  it('runs with it, warning once', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'reproserver-out-')), 'out');
    const { code, stderr } = await cli([
      '--out',
      out,
      '--backend',
      'sandbox',
      '--allow-weak-isolation'
    ]);
    expect(stderr).toContain('warning: The sandbox backend does not isolate');
    expect(code).toBe(0);
  });
});
