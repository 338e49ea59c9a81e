/**
 * The server under stress and across restarts: the real server process, Docker and packages.
 */
import Docker from 'dockerode';
import type {
  PackageSummary,
  RunEventMessage,
  RunRecord
} from '../../../src/api/wire';
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

/** Starts a long run of slow-printer and waits until its first log line is in its log. */
async function startLongRun(
  api: ApiClient
): Promise<{ id: string; seen: RunEventMessage[] }> {
  const slow = await register(api, 'slow-printer');
  const created = await api.call<RunRecord>('POST', '/api/runs', {
    package: slow.sha256,
    edits: { stepEdits: [{ step: 0, args: [{ index: 2, value: '30' }] }] }
  });
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

describe.each([['SIGKILL' as const], ['SIGTERM' as const]])(
  'a server stopped by %s during a run',
  signal => {
    it('is marked interrupted after the restart, its log so far intact, its container gone', async () => {
      const { root } = makeWorkspace();
      const first = await serverWith(root);
      const { id, seen } = await startLongRun(first);
      await first.server.stop(signal);

      const second = await serverWith(
        root,
        first.server.stateDir,
        first.server.token
      );
      try {
        const run = (await second.call<RunRecord>('GET', `/api/runs/${id}`))
          .body;
        expect(run.status).toBe('interrupted');
        expect(run.reason).toMatch(
          /server stopped while this run was executing/
        );
        const events = await second.follow(id, 0);
        expect(events.code).toBe(1000);
        // Everything a client saw before the stop is still there, in order, then the ending.
        expect(events.messages.slice(0, seen.length)).toEqual(seen);
        expect(events.messages[events.messages.length - 1].event).toMatchObject(
          {
            type: 'end',
            status: 'interrupted'
          }
        );
        const docker = new Docker({ socketPath: dockerSocket() });
        const left = await docker.listContainers({
          all: true,
          filters: { label: [`org.reproserver.run=${id}`] }
        });
        expect(left).toEqual([]);
      } finally {
        await second.server.stop();
      }
    });
  }
);

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
