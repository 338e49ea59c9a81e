/**
 * A server shared by several users (`--users-file`), through the real server process and the
 * real `reproserver users` command, with runs of the reprozip-made slow-printer example
 * (`sh slow.sh COUNT`: a line a second) on the sandbox: each user sees and acts on their own runs
 * only (another's is "not found", as an unknown id is), one user's queued excess waits while
 * another user's run starts, and the per-user cap on runs not ended and rate limit refuse with
 * 429, a sentence and (for the rate) Retry-After. The users file is read again on SIGHUP.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import {
  EVENTS_SOCKET_PROTOCOL,
  type PackageSummary,
  type RunList,
  type RunRecord
} from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { reproserver } from '../../helpers/cli-process';
import { startServer, type RunningServer } from '../../helpers/server-process';
import { makeWorkspace } from '../api/workspace';

jest.setTimeout(120_000);

type Refusal = { error: { code: string; message: string } };

describe('a server shared by several users', () => {
  const usersFile = join(
    mkdtempSync(join(tmpdir(), 'reproserver-users-')),
    'users'
  );
  let server: RunningServer;
  let alice: ApiClient;
  let bob: ApiClient;
  let pkg: PackageSummary;
  const ids: Record<string, string> = {};

  /** A run of slow-printer counting to `count` (about that many seconds). */
  const start = (client: ApiClient, count: number) =>
    client.call<RunRecord & Refusal>('POST', '/api/runs', {
      package: pkg.sha256,
      backend: 'sandbox',
      acceptWeakIsolation: true,
      edits: {
        stepEdits: [{ step: 0, args: [{ index: 2, value: `${count}` }] }]
      }
    });

  const status = async (client: ApiClient, id: string) =>
    (await client.call<RunRecord>('GET', `/api/runs/${id}`)).body.status;

  async function until(what: string, check: () => Promise<boolean>) {
    const deadline = Date.now() + 60_000;
    while (!(await check())) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting until ${what}`);
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    const tokens: Record<string, string> = {};
    for (const name of ['alice', 'bob']) {
      const added = await reproserver([
        'users',
        'add',
        name,
        '--file',
        usersFile
      ]);
      expect(added.code).toBe(0);
      expect(added.stderr).toContain(`Added "${name}"`);
      tokens[name] = added.stdout.trim();
      expect(tokens[name]).toMatch(/^[0-9a-f]{64}$/);
    }
    const listed = await reproserver(['users', 'list', '--file', usersFile]);
    expect(listed.stdout).toBe('alice\nbob\n');
    const workspace = makeWorkspace();
    server = await startServer({
      REPROSERVER_WORKSPACE: workspace.root,
      REPROSERVER_USERS_FILE: usersFile,
      REPROSERVER_MAX_CONCURRENT_RUNS: '2',
      REPROSERVER_USER_MAX_RUNNING: '1',
      REPROSERVER_USER_MAX_QUEUED: '3',
      REPROSERVER_USER_RUNS_PER_MINUTE: '5'
    });
    alice = new ApiClient(server, { 'x-reproserver-token': tokens.alice });
    bob = new ApiClient(server, { 'x-reproserver-token': tokens.bob });
    pkg = (
      await alice.call<PackageSummary>('POST', '/api/packages', {
        path: 'packages/slow-printer.rpz'
      })
    ).body;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('takes each user’s token, and neither the server’s own token nor an unknown one', async () => {
    expect(server.output()).toContain('serving 2 users of');
    const own = await new ApiClient(server).call<Refusal>('GET', '/api/runs');
    expect(own.status).toBe(401);
    expect(own.body.error.code).toBe('unauthorized');
    const unknown = await new ApiClient(server, {
      'x-reproserver-token': 'f'.repeat(64)
    }).call<Refusal>('GET', '/api/runs');
    expect(unknown.status).toBe(401);
    expect((await alice.call('GET', '/api/runs')).status).toBe(200);
  });

  it('starts another user’s run before a user’s queued excess', async () => {
    ids.a1 = (await start(alice, 3)).body.id;
    ids.a2 = (await start(alice, 1)).body.id;
    await until(
      'a1 started',
      async () => (await status(alice, ids.a1)) !== 'queued'
    );
    // A slot is free (2 at once), but alice has her one running run.
    expect(await status(alice, ids.a2)).toBe('queued');
    const b1 = await start(bob, 1);
    expect(b1.status).toBe(202);
    ids.b1 = b1.body.id;
    await until(
      'b1 started',
      async () => (await status(bob, ids.b1)) !== 'queued'
    );
    expect(await status(alice, ids.a2)).toBe('queued');
    const a2 = await alice.waitForEnd(ids.a2);
    const b1Ended = await bob.waitForEnd(ids.b1);
    expect([a2.status, b1Ended.status]).toEqual(['succeeded', 'succeeded']);
    expect(Date.parse(b1Ended.startedAt!)).toBeLessThan(
      Date.parse(a2.startedAt!)
    );
  });

  it('refuses a user’s runs past their cap on runs not ended (429 user-queue-full)', async () => {
    for (const name of ['a3', 'a4', 'a5']) {
      const reply = await start(alice, 60);
      expect(reply.status).toBe(202);
      ids[name] = reply.body.id;
    }
    const refused = await start(alice, 1);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toEqual({
      code: 'user-queue-full',
      message:
        'You have 3 runs queued or running and this server takes at most 3 per user; cancel some, or wait for them to end.'
    });
    const sweep = await alice.call<Refusal>('POST', '/api/sweeps', {
      package: pkg.sha256,
      backend: 'sandbox',
      acceptWeakIsolation: true,
      axes: [
        {
          field: { kind: 'arg', step: 0, index: 2 },
          values: { kind: 'list', values: ['1', '2'] }
        }
      ]
    });
    expect(sweep.status).toBe(429);
    expect(sweep.body.error.code).toBe('user-queue-full');
    expect(sweep.body.error.message).toContain('so not these 2 more');
    // Another user is not held by alice's cap.
    const b2 = await start(bob, 1);
    expect(b2.status).toBe(202);
    ids.b2 = b2.body.id;
  });

  it('rate-limits a user’s starts (429 rate-limited, Retry-After)', async () => {
    expect(
      (await alice.call('POST', `/api/runs/${ids.a5}/cancel`)).status
    ).toBe(200);
    // Alice has room again, but she started 5 runs in this minute.
    const refused = await start(alice, 1);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate-limited');
    expect(refused.body.error.message).toMatch(
      /^You started 5 runs in the last minute, the most this server allows per user; try again in (\d+) s\.$/
    );
    const wait = Number(/in (\d+) s/.exec(refused.body.error.message)![1]);
    const reply = await new Promise<{ retryAfter?: string }>(resolve => {
      // The header, through a request of our own (the client keeps bodies only).
      void fetch(new URL('/api/runs', server.url), {
        method: 'POST',
        headers: { ...alice.headers, 'content-type': 'application/json' },
        body: JSON.stringify({
          package: pkg.sha256,
          backend: 'sandbox',
          acceptWeakIsolation: true
        })
      }).then(r =>
        resolve({ retryAfter: r.headers.get('retry-after') ?? undefined })
      );
    });
    expect(Number(reply.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(reply.retryAfter)).toBeLessThanOrEqual(Math.max(wait, 60));
    // Bob's own starts are his own.
    expect((await bob.call('GET', '/api/runs')).status).toBe(200);
  });

  it('shows and lets act on a user’s own runs only: another’s answer as an unknown id', async () => {
    const aliceRuns = (await alice.call<RunList>('GET', '/api/runs')).body.runs;
    const bobRuns = (await bob.call<RunList>('GET', '/api/runs')).body.runs;
    expect(aliceRuns.map(r => r.id).sort()).toEqual(
      [ids.a1, ids.a2, ids.a3, ids.a4, ids.a5].sort()
    );
    expect(bobRuns.map(r => r.id).sort()).toEqual([ids.b1, ids.b2].sort());

    const unknown = await bob.call<Refusal>('GET', '/api/runs/nosuchrun');
    const hidden = await bob.call<Refusal>('GET', `/api/runs/${ids.a3}`);
    expect(hidden.status).toBe(404);
    expect(hidden.body.error.message).toBe(
      unknown.body.error.message.replace('nosuchrun', ids.a3)
    );
    for (const [method, path] of [
      ['POST', `/api/runs/${ids.a3}/cancel`],
      ['DELETE', `/api/runs/${ids.a1}`],
      ['GET', `/api/runs/${ids.a1}/events`],
      ['GET', `/api/runs/${ids.a1}/outputs/ticks.txt`],
      ['POST', `/api/runs/${ids.a1}/save`],
      ['GET', `/api/compare?a=${ids.a1}&b=${ids.b1}`]
    ]) {
      const reply = await bob.call<Refusal>(
        method,
        path,
        method === 'POST' ? {} : undefined
      );
      expect([path, reply.status, reply.body.error?.code]).toEqual([
        path,
        404,
        'not-found'
      ]);
    }
    expect(await status(alice, ids.a3)).not.toMatch(/cancelled/);

    // The live events too: refused before the upgrade, as an unknown run.
    const url = new URL(`/api/runs/${ids.a3}/events`, server.url);
    url.protocol = 'ws:';
    const socket = new WebSocket(url, [EVENTS_SOCKET_PROTOCOL], {
      headers: bob.headers
    });
    const refusedStatus = await new Promise<number>(resolve =>
      socket.on('unexpected-response', (_, response) =>
        resolve(response.statusCode ?? 0)
      )
    );
    expect(refusedStatus).toBe(404);
    // Its owner follows it.
    const own = await alice.follow(ids.a1);
    expect(own.code).toBe(1000);
    expect(own.messages.length).toBeGreaterThan(0);
  });

  it('keeps sweeps to their user', async () => {
    const created = await bob.call<{ id: string } & Refusal>(
      'POST',
      '/api/sweeps',
      {
        package: pkg.sha256,
        backend: 'sandbox',
        acceptWeakIsolation: true,
        axes: [
          {
            field: { kind: 'arg', step: 0, index: 2 },
            values: { kind: 'list', values: ['1', '2'] }
          }
        ]
      }
    );
    expect(created.status).toBe(201);
    const sweep = created.body.id;
    expect(
      (
        await bob.call<{ sweeps: { id: string }[] }>('GET', '/api/sweeps')
      ).body.sweeps.map(s => s.id)
    ).toEqual([sweep]);
    expect(
      (await alice.call<{ sweeps: unknown[] }>('GET', '/api/sweeps')).body
        .sweeps
    ).toEqual([]);
    expect((await alice.call('GET', `/api/sweeps/${sweep}`)).status).toBe(404);
    expect(
      (await alice.call('POST', `/api/sweeps/${sweep}/cancel`)).status
    ).toBe(404);
    expect((await bob.call('POST', `/api/sweeps/${sweep}/cancel`)).status).toBe(
      200
    );
    for (const id of [ids.a3, ids.a4]) {
      expect((await alice.call('POST', `/api/runs/${id}/cancel`)).status).toBe(
        200
      );
    }
  });

  it('refuses to start with a users file it cannot use, saying why', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'reproserver-users-bad-'));
    const bad = join(folder, 'users');
    writeFileSync(bad, 'alice:my-secret-token\n');
    const result = await reproserver([
      'serve',
      '--port',
      '0',
      '--state',
      join(folder, 'state'),
      '--users-file',
      bad
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `reproserver: ${bad}, line 1: the token hash of "alice" is not 64 lowercase hex digits (a sha256).\n`
    );
  });

  it('reads the users file again on SIGHUP: a removed user’s token stops working', async () => {
    const removed = await reproserver([
      'users',
      'remove',
      'bob',
      '--file',
      usersFile
    ]);
    expect(removed.code).toBe(0);
    server.process.kill('SIGHUP');
    await until('bob is refused', async () => {
      return (await bob.call('GET', '/api/runs')).status === 401;
    });
    expect((await alice.call('GET', '/api/runs')).status).toBe(200);
    expect(server.output()).toContain('users file read again: 1 users');
  });
});

describe('reproserver users', () => {
  const file = join(
    mkdtempSync(join(tmpdir(), 'reproserver-users-cli-')),
    'users'
  );

  it('gives a name added again a new token, keeps only hashes, and says what it cannot do', async () => {
    const first = await reproserver(['users', 'add', 'carol', '--file', file]);
    const again = await reproserver(['users', 'add', 'carol', '--file', file]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain('Gave a new token to "carol"');
    expect(again.stdout).not.toBe(first.stdout);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(first.stdout.trim());
    expect(text).not.toContain(again.stdout.trim());
    expect(text).toContain(
      `carol:${createHash('sha256').update(again.stdout.trim()).digest('hex')}\n`
    );
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await reproserver(['users', 'list', '--file', file])).stdout).toBe(
      'carol\n'
    );

    const unknown = await reproserver([
      'users',
      'remove',
      'dave',
      '--file',
      file
    ]);
    expect(unknown).toMatchObject({
      code: 1,
      stderr: `reproserver users: ${file} has no user "dave".\n`
    });
    const badName = await reproserver(['users', 'add', 'a:b', '--file', file]);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain('"a:b" is not a user name');
    expect((await reproserver(['users', 'add', '--file', file])).code).toBe(2);
    expect(
      (await reproserver(['users', 'rename', 'x', '--file', file])).code
    ).toBe(2);
    const noFile = await reproserver(['users', 'list']);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain('name the users file with --file F');
  });
});
