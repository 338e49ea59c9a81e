/**
 * The server under stress and across restarts: the real server process, Docker and packages.
 */
import {
  existsSync,
  mkdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import type {
  PackageSummary,
  RunEventMessage,
  RunRecord
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { dockerSocket } from '../../helpers/docker-run';
import { example } from '../../helpers/examples';
import { startServer } from '../../helpers/server-process';
import { makeWorkspace } from './workspace';

jest.setTimeout(300_000);

async function serverWith(
  workspace: string,
  stateDir?: string,
  token?: string
): Promise<ApiClient> {
  const server = await startServer(
    { REPROSERVER_WORKSPACE: workspace, REPROSERVER_MAX_CONCURRENT_RUNS: '2' },
    { stateDir, token }
  );
  return new ApiClient(server);
}

async function register(api: ApiClient, name: string): Promise<PackageSummary> {
  return (
    await api.call<PackageSummary>('POST', '/api/packages', {
      path: `packages/${name}.rpz`
    })
  ).body;
}

/**
 * Starts slow-printer counting to `ticks` (a line a second) and waits until its second tick is
 * in the log; resolves with what a client saw until then.
 */
async function startSlowRun(
  api: ApiClient,
  ticks: number,
  backend: 'docker' | 'sandbox' = 'docker'
): Promise<{ id: string; seen: RunEventMessage[] }> {
  const slow = await register(api, 'slow-printer');
  const created = await api.call<RunRecord>('POST', '/api/runs', {
    package: slow.sha256,
    backend,
    edits: {
      stepEdits: [{ step: 0, args: [{ index: 2, value: String(ticks) }] }]
    }
  });
  expect(created.status).toBe(202);
  const seen: RunEventMessage[] = [];
  await api.follow(created.body.id, 0, (message, socket) => {
    seen.push(message);
    if (
      message.event.type === 'log' &&
      (message.event as { text: string }).text.includes('tick 2/')
    ) {
      socket.close();
    }
  });
  return { id: created.body.id, seen };
}

function logText(messages: RunEventMessage[]): string {
  return messages
    .filter(m => m.event.type === 'log')
    .map(m => (m.event as { text: string }).text)
    .join('');
}

function slowPrinterLog(ticks: number): string {
  const lines = Array.from(
    { length: ticks },
    (_, i) => `tick ${i + 1}/${ticks}`
  );
  return [`counting to ${ticks}`, ...lines, 'done'].join('\n') + '\n';
}

/** Whether the run's first step wrote its exit code in its container (running or not). */
async function hasExited(containerId: string): Promise<boolean> {
  const docker = new Docker({ socketPath: dockerSocket() });
  try {
    const archive = await docker
      .getContainer(containerId)
      .getArchive({ path: '/.reproserver/steps/0.exit' });
    (archive as NodeJS.ReadableStream & { resume(): void }).resume();
    return true;
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) {
      return false;
    }
    throw error;
  }
}

async function containersOf(id: string): Promise<Docker.ContainerInfo[]> {
  const docker = new Docker({ socketPath: dockerSocket() });
  return docker.listContainers({
    all: true,
    filters: { label: [`org.reproserver.run=${id}`] }
  });
}

/** Restarts the server on the same state, runs `check` against it, and stops it. */
async function afterRestart(
  first: ApiClient,
  root: string,
  check: (second: ApiClient) => Promise<void>
): Promise<void> {
  const second = await serverWith(
    root,
    first.server.stateDir,
    first.server.token
  );
  try {
    await check(second);
  } finally {
    await second.server.stop();
  }
}

/**
 * The run ends on the restarted server: its log is everything a client saw before the stop, in
 * order, then the rest, with no line repeated or lost; its container is gone.
 */
async function expectCompleteLog(
  api: ApiClient,
  id: string,
  seen: RunEventMessage[],
  ticks: number
): Promise<RunRecord> {
  const events = await api.follow(id, 0);
  expect(events.code).toBe(1000);
  expect(events.messages.slice(0, seen.length)).toEqual(seen);
  expect(logText(events.messages)).toBe(slowPrinterLog(ticks));
  const run = (await api.call<RunRecord>('GET', `/api/runs/${id}`)).body;
  expect(events.messages[events.messages.length - 1].offset).toBe(
    run.eventsSize
  );
  expect(await containersOf(id)).toEqual([]);
  return run;
}

async function expectTicksOutput(
  api: ApiClient,
  run: RunRecord,
  ticks: number
): Promise<void> {
  expect(run.outputs.map(o => o.name)).toEqual(['ticks.txt']);
  const output = await api.call('GET', `/api/runs/${run.id}/outputs/ticks.txt`);
  expect(output.text).toBe(
    Array.from({ length: ticks }, (_, i) => `tick ${i + 1}/${ticks}\n`).join('')
  );
}

describe.each([['SIGKILL' as const], ['SIGTERM' as const]])(
  'a server stopped by %s during a Docker run',
  signal => {
    it('re-attaches after the restart: the log goes on where it was, the run finishes with its outputs', async () => {
      const { root } = makeWorkspace();
      const first = await serverWith(root);
      const { id, seen } = await startSlowRun(first, 8);
      await first.server.stop(signal);
      await afterRestart(first, root, async second => {
        const run = await expectCompleteLog(second, id, seen, 8);
        expect(run.status).toBe('succeeded');
        expect(run.steps[0].exitCode).toBe(0);
        await expectTicksOutput(second, run, 8);
      });
    });
  }
);

describe('a server killed during a run, restarted later', () => {
  it('collects the outputs of a run whose step finished while no server was there', async () => {
    const { root } = makeWorkspace();
    const first = await serverWith(root);
    const { id, seen } = await startSlowRun(first, 4);
    await first.server.stop('SIGKILL');
    // The step goes on without a server; its helper writes the exit code inside the container.
    const [container] = await containersOf(id);
    for (let waited = 0; !(await hasExited(container.Id)); waited += 200) {
      expect(waited).toBeLessThan(30_000);
      await new Promise(resolve => setTimeout(resolve, 200));
    }
    await afterRestart(first, root, async second => {
      const run = await expectCompleteLog(second, id, seen, 4);
      expect(run.status).toBe('succeeded');
      await expectTicksOutput(second, run, 4);
    });
  });

  it('marks interrupted a run whose container was killed meanwhile, its log so far kept', async () => {
    const { root } = makeWorkspace();
    const first = await serverWith(root);
    const { id, seen } = await startSlowRun(first, 30);
    await first.server.stop('SIGKILL');
    const [container] = await containersOf(id);
    await new Docker({ socketPath: dockerSocket() })
      .getContainer(container.Id)
      .kill();
    // What an earlier version left: step folders on the host, where a step planted links.
    const stray = join(first.server.stateDir, 'docker-steps', 'stray-run');
    const outside = join(first.server.stateDir, 'outside');
    mkdirSync(join(outside, 'folder'), { recursive: true });
    writeFileSync(join(outside, 'folder', 'kept.txt'), 'kept\n');
    mkdirSync(stray, { recursive: true });
    symlinkSync(join(outside, 'folder'), join(stray, 'link-to-folder'));
    symlinkSync(join(outside, 'folder', 'kept.txt'), join(stray, '0.exec'));
    await afterRestart(first, root, async second => {
      expect(existsSync(join(first.server.stateDir, 'docker-steps'))).toBe(
        false
      );
      expect(readFileSync(join(outside, 'folder', 'kept.txt'), 'utf8')).toBe(
        'kept\n'
      );
      const events = await second.follow(id, 0);
      expect(events.messages.slice(0, seen.length)).toEqual(seen);
      const run = (await second.call<RunRecord>('GET', `/api/runs/${id}`)).body;
      expect(run.status).toBe('interrupted');
      expect(run.reason).toMatch(/Step 0 \(run0\) ended without an exit code/);
      expect(events.messages[events.messages.length - 1].event).toMatchObject({
        type: 'end',
        status: 'interrupted'
      });
      expect(await containersOf(id)).toEqual([]);
    });
  });

  it('marks interrupted a sandbox run, whose processes stop with the server', async () => {
    const { root } = makeWorkspace();
    const first = await serverWith(root);
    const { id, seen } = await startSlowRun(first, 30, 'sandbox');
    await first.server.stop('SIGKILL');
    await afterRestart(first, root, async second => {
      const events = await second.follow(id, 0);
      expect(events.code).toBe(1000);
      expect(events.messages.slice(0, seen.length)).toEqual(seen);
      const run = (await second.call<RunRecord>('GET', `/api/runs/${id}`)).body;
      expect(run.status).toBe('interrupted');
      expect(run.reason).toMatch(
        /stopped while this run was executing in the sandbox/
      );
    });
  });
});

describe('load', () => {
  it('finishes 20 runs submitted at once with concurrency 2, each complete', async () => {
    const { root } = makeWorkspace();
    const api = await serverWith(root);
    try {
      const shell = await register(api, 'shell-pipeline');
      const expected = example('shell-pipeline').manifest;
      const ids = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const count = String((i % 3) + 1);
          const reply = await api.call<RunRecord>('POST', '/api/runs', {
            package: shell.sha256,
            edits: {
              stepEdits: [{ step: 0, args: [{ index: 3, value: count }] }]
            }
          });
          expect(reply.status).toBe(202);
          return { id: reply.body.id, count: Number(count) };
        })
      );
      let maxRunning = 0;
      for (;;) {
        const runs = (
          await api.call<{ runs: RunRecord[] }>(
            'GET',
            `/api/runs?package=${shell.sha256}`
          )
        ).body.runs;
        maxRunning = Math.max(
          maxRunning,
          runs.filter(r => r.status === 'building' || r.status === 'running')
            .length
        );
        if (
          runs.every(r => !['queued', 'building', 'running'].includes(r.status))
        ) {
          break;
        }
        await new Promise(resolve => setTimeout(resolve, 50));
      }
      expect(maxRunning).toBeLessThanOrEqual(2);
      const words = expected.runs[0].stdout.slice(1);
      for (const { id, count } of ids) {
        const run = (await api.call<RunRecord>('GET', `/api/runs/${id}`)).body;
        expect(run.status).toBe('succeeded');
        expect(run.outputs.map(o => o.name)).toEqual(['top-words.txt']);
        const output = await api.call(
          'GET',
          `/api/runs/${id}/outputs/top-words.txt`
        );
        expect(output.text).toBe(words.slice(0, count).join('\n') + '\n');
        const { messages } = await api.follow(id, 0);
        const log = messages
          .filter(m => m.event.type === 'log')
          .map(m => (m.event as { text: string }).text)
          .join('');
        expect(log).toBe(
          [`top ${count} words in words.txt:`, ...words.slice(0, count)].join(
            '\n'
          ) + '\n'
        );
      }
    } finally {
      await api.server.stop();
    }
  });

  it('gives 50 WebSocket clients following one run the identical full log', async () => {
    const { root } = makeWorkspace();
    const api = await serverWith(root);
    try {
      const slow = await register(api, 'slow-printer');
      const created = await api.call<RunRecord>('POST', '/api/runs', {
        package: slow.sha256
      });
      const followers = await Promise.all(
        Array.from({ length: 50 }, () => api.follow(created.body.id, 0))
      );
      const run = (
        await api.call<RunRecord>('GET', `/api/runs/${created.body.id}`)
      ).body;
      expect(run.status).toBe('succeeded');
      for (const follower of followers) {
        expect(follower.code).toBe(1000);
        expect(follower.messages).toEqual(followers[0].messages);
      }
      expect(
        followers[0].messages[followers[0].messages.length - 1].offset
      ).toBe(run.eventsSize);
    } finally {
      await api.server.stop();
    }
  });
});
