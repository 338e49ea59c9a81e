/**
 * A run's default memory limit comes from the memory the real server process can use. The server
 * is moved into a memory cgroup of 1 GiB (made here; the test runs as root) before its first
 * request, as if started on a 1 GiB Binder: `GET /api/backends` then offers 512 MiB, and a run
 * created without limits gets exactly that.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  BackendsResponse,
  PackageSummary,
  RunRecord
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { startServer, type RunningServer } from '../../helpers/server-process';
import { makeWorkspace } from './workspace';

jest.setTimeout(120_000);

const GIB = 1024 ** 3;

/** A new memory cgroup of `bytes` below this process's (v2 if it has memory, else v1). */
function makeMemoryCgroup(bytes: number): string {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const v1 = lines.find(line => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(line));
  const name = `reproserver-default-limits-${process.pid}`;
  if (v1) {
    const dir = join('/sys/fs/cgroup/memory', v1.split(':')[2], name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(bytes));
    return dir;
  }
  // v2: below the root, where controllers can be given to children.
  const dir = join('/sys/fs/cgroup', name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'memory.max'), String(bytes));
  return dir;
}

/**
 * Removes the cgroup once the server's own children (its reader processes, which end a moment
 * after it) have left it; what is still there after 5 s, all started by that server, is killed.
 */
async function emptyAndRemove(dir: string): Promise<void> {
  const members = (): number[] =>
    readFileSync(join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map(Number);
  for (let waited = 0; members().length > 0 && waited < 5000; waited += 100) {
    await new Promise(resolve => setTimeout(resolve, 100));
  }
  for (const pid of members()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EBUSY' || attempt >= 50) {
        throw error;
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
  }
}

describe('the default memory of a run, on a server in 1 GiB', () => {
  let server: RunningServer;
  let api: ApiClient;
  let cgroup: string;

  beforeAll(async () => {
    const workspace = makeWorkspace();
    cgroup = makeMemoryCgroup(GIB);
    server = await startServer({ REPROSERVER_WORKSPACE: workspace.root });
    // Before any request: the server reads its memory ceiling at its first use.
    writeFileSync(join(cgroup, 'cgroup.procs'), String(server.process.pid));
    api = new ApiClient(server);
  });

  afterAll(async () => {
    await server?.stop();
    if (cgroup) {
      await emptyAndRemove(cgroup);
    }
  });

  it('is half of the cgroup, in GET /api/backends and in a run without limits', async () => {
    const backends = await api.call<BackendsResponse>('GET', '/api/backends');
    expect(backends.body.defaultLimits).toMatchObject({
      memoryMiB: 512,
      timeoutSeconds: 3600
    });
    const pkg = await api.call<PackageSummary>('POST', '/api/packages', {
      path: 'packages/shell-pipeline.rpz'
    });
    expect(pkg.status).toBe(200);
    const created = await api.call<RunRecord>('POST', '/api/runs', {
      package: pkg.body.sha256,
      backend: 'sandbox',
      acceptWeakIsolation: true
    });
    expect(created.status).toBe(202);
    expect(created.body.limits.memoryMiB).toBe(512);
    const asked = await api.call<RunRecord>('POST', '/api/runs', {
      package: pkg.body.sha256,
      backend: 'sandbox',
      acceptWeakIsolation: true,
      edits: { limits: { memoryMiB: 700 } }
    });
    expect(asked.body.limits.memoryMiB).toBe(700);
    for (const run of [created.body, asked.body]) {
      expect((await api.waitForEnd(run.id)).status).toBe('succeeded');
    }
  });
});
