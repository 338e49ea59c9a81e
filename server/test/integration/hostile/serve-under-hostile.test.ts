/**
 * The real server keeps answering while every hostile package is uploaded to it: each upload
 * gets an answer (refused with a code, or accepted) within seconds, and a second client polling
 * `/api/health` all along sees a p99 under 100 ms. The packages that froze the first version
 * (a pax `size=1.5`, a trace whose `processes` is a recursive view) are uploaded too: whatever
 * the parsers do with them, the reader's deadline must refuse them rather than hang.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ApiErrorBody, PackageSummary } from '../../../src/contract/wire';
import { ApiClient } from '../../helpers/api-client';
import { HOSTILE_CORPUS } from '../../helpers/hostile-corpus';
import {
  CLI,
  startServer,
  type RunningServer
} from '../../helpers/server-process';
import {
  paxFractionalSize,
  recursiveViewPackage
} from '../../unit/rpz-worker/freezing-packages';
import { assertFreshBuild } from './fresh-build';

/**
 * The server's read deadline here: short, so that packages that hang cost little time, yet with
 * room for the heaviest package that must be accepted (`io-files-with-one-path`, 10,000 flow
 * mappings of YAML: about 1.1 s to read on a quiet 2-core machine, over 2 s under CI's load).
 */
const READ_TIMEOUT_SECONDS = 5;
/** Every answer comes within this (deadline, a fresh reader's start, a loaded 2-core machine). */
const ANSWER_MS = READ_TIMEOUT_SECONDS * 1000 + 3000;
const HEALTH_P99_MS = 100;

interface Upload {
  name: string;
  build: () => Promise<Buffer>;
  /** Whether the metadata is refused (422), accepted (200), or either (the reader decides). */
  expect: 'refused' | 'accepted' | 'either';
  /** Also ask for the details, which walk the data (file sizes). */
  details: boolean;
}

const UPLOADS: Upload[] = [
  {
    name: 'review-pax-size-1-5',
    build: async () => paxFractionalSize(),
    expect: 'refused',
    details: false
  },
  {
    name: 'review-trace-recursive-view',
    build: recursiveViewPackage,
    expect: 'either',
    details: false
  },
  // Cases that need smaller reader limits than the server's cannot be sent as uploads.
  ...HOSTILE_CORPUS.filter(c => c.options === undefined).map((c): Upload => ({
    name: c.name,
    build: c.build,
    expect:
      c.via === 'package'
        ? 'code' in c.expect
          ? 'refused'
          : 'accepted'
        : 'either',
    details: c.via === 'entries'
  }))
];

function percentile(sorted: number[], p: number): number {
  return sorted[
    Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  ];
}

jest.setTimeout(10 * 60_000);

let server: RunningServer;
let api: ApiClient;
beforeAll(async () => {
  assertFreshBuild();
  server = await startServer({
    REPROSERVER_READ_TIMEOUT_SECONDS: String(READ_TIMEOUT_SECONDS)
  });
  api = new ApiClient(server);
});
afterAll(async () => {
  await server?.stop();
});

/** Polls /api/health back to back until stopped; resolves with each answer's latency (ms). */
function pollHealth(client: ApiClient): { stop: () => Promise<number[]> } {
  let polling = true;
  const samples: number[] = [];
  const done = (async () => {
    while (polling) {
      const started = performance.now();
      const reply = await client.call('GET', '/api/health');
      samples.push(performance.now() - started);
      expect(reply.status).toBe(200);
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    return samples;
  })();
  return {
    stop: () => {
      polling = false;
      return done;
    }
  };
}

it('answers every hostile upload within seconds while /api/health stays fast', async () => {
  expect(UPLOADS.length).toBeGreaterThanOrEqual(40);
  const poller = pollHealth(api);
  let health: number[] = [];
  const slow: string[] = [];
  const wrong: string[] = [];
  const timedOut: string[] = [];
  try {
    for (const upload of UPLOADS) {
      const bytes = await upload.build();
      const started = performance.now();
      const reply = await api.call<PackageSummary | ApiErrorBody>(
        'PUT',
        `/api/packages/upload?name=${upload.name}.rpz`,
        bytes,
        { 'content-type': 'application/octet-stream' }
      );
      let elapsed = performance.now() - started;
      const refused =
        reply.status === 422 &&
        (reply.body as ApiErrorBody).error.code === 'bad-package';
      if (!refused && reply.status !== 200) {
        wrong.push(`${upload.name}: HTTP ${reply.status} ${reply.text}`);
      } else if (
        (upload.expect === 'refused' && !refused) ||
        (upload.expect === 'accepted' && refused)
      ) {
        wrong.push(`${upload.name}: ${reply.status} ${reply.text}`);
      }
      if (refused && /took longer than/.test(reply.text)) {
        timedOut.push(upload.name);
      }
      if (!refused && upload.details) {
        const sha256 = (reply.body as PackageSummary).sha256;
        const details = await api.call('GET', `/api/packages/${sha256}`);
        elapsed = performance.now() - started;
        if (details.status !== 200) {
          wrong.push(
            `${upload.name} details: ${details.status} ${details.text}`
          );
        }
      }
      if (elapsed > ANSWER_MS) {
        slow.push(`${upload.name}: ${Math.round(elapsed)} ms`);
      }
    }
  } finally {
    health = await poller.stop();
  }
  expect(wrong).toEqual([]);
  expect(slow).toEqual([]);
  const sorted = [...health].sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  console.log(
    `${UPLOADS.length} hostile uploads (${timedOut.length} refused by the read deadline${timedOut.length > 0 ? `: ${timedOut.join(', ')}` : ''}); ` +
      `/api/health during them: ${health.length} polls, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`
  );
  expect(health.length).toBeGreaterThan(50);
  expect(p99).toBeLessThan(HEALTH_P99_MS);
  // The server is still whole: it answers a real package afterwards.
  const health2 = await api.call('GET', '/api/health');
  expect(health2.status).toBe(200);
});

describe('with a reader that never answers', () => {
  // Whatever the parsers come to refuse at once, the deadline must hold for the next bug: a
  // reader script that spins forever stands for it, in the real server.
  let spinning: RunningServer;
  let client: ApiClient;
  let folder: string;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'rpz-spinning-'));
    const script = join(folder, 'spinning-reader.js');
    writeFileSync(
      script,
      `process.on('message', () => { for (;;) {} });
       process.on('disconnect', () => process.exit(0));
       process.send({ ready: true });`
    );
    spinning = await startServer({
      REPROSERVER_READ_TIMEOUT_SECONDS: '1',
      REPROSERVER_READER_SCRIPT: script
    });
    client = new ApiClient(spinning);
  });
  afterAll(async () => {
    await spinning?.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  // `reproserver inspect` reads in its own process (its deadline: test/unit/rpz/inspect-deadline);
  // `run` reads through reader processes, as the server does.
  it('makes `reproserver run` refuse at the deadline and exit', () => {
    const started = performance.now();
    const result = spawnSync(
      process.execPath,
      [
        CLI,
        'run',
        resolve(__dirname, '../../../../examples/shell-pipeline.rpz'),
        '--out',
        join(folder, 'out')
      ],
      {
        encoding: 'utf8',
        timeout: 20_000,
        env: {
          ...process.env,
          REPROSERVER_READ_TIMEOUT_SECONDS: '1',
          REPROSERVER_READER_SCRIPT: join(folder, 'spinning-reader.js'),
          REPROSERVER_STATE_DIR: join(folder, 'state')
        }
      }
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      'Reading the package took longer than 1 s (the read timeout, --read-timeout-seconds); it is refused (shell-pipeline.rpz)\n'
    );
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('refuses each upload at the deadline and keeps answering others', async () => {
    const poller = pollHealth(client);
    const answers: { status: number; text: string; ms: number }[] = [];
    try {
      // Three at once: more than the reader processes, so one waits its turn.
      await Promise.all(
        [0, 1, 2].map(async i => {
          const started = performance.now();
          const reply = await client.call(
            'PUT',
            `/api/packages/upload?name=spin-${i}.rpz`,
            Buffer.from(`package ${i}`)
          );
          answers.push({ ...reply, ms: performance.now() - started });
        })
      );
    } finally {
      const sorted = (await poller.stop()).sort((a, b) => a - b);
      expect(percentile(sorted, 99)).toBeLessThan(HEALTH_P99_MS);
    }
    for (const answer of answers) {
      expect(answer.status).toBe(422);
      expect(answer.text).toMatch(
        /Reading the package took longer than 1 s \(the read timeout, --read-timeout-seconds\); it is refused \(spin-\d\.rpz\)/
      );
      expect(answer.ms).toBeLessThan(2 * 1000 + 3000);
    }
  });
});
