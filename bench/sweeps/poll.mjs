#!/usr/bin/env node
/**
 * What the panel's polling of a big sweep costs the server, through the real server process and
 * its API: a sweep of VARIANTS runs (10,000 by default) of a small package on the sandbox, its
 * runs queued behind one running at a time, then `GET /api/sweeps/{id}` asked CALLS times in
 * each form, interleaved:
 *
 * - full: every row (the panel's first read, and every poll before `?since=`), the baseline;
 * - incremental: `?since=<revision of the previous answer>`, only the rows changed since (the
 *   panel's polls).
 *
 * For each form: the response time and size, and how long the call blocks the server's event
 * loop, measured as the extra latency of a `GET /api/health` sent right after it on another
 * connection (its latency alone, idle, is measured in the same run and subtracted).
 *
 *   node bench/sweeps/poll.mjs [VARIANTS] [CALLS]
 *
 * Needs the server built (`npm run build:server`) and the examples (`.state/examples/
 * slow-printer.rpz`, made by scripts/make-examples.sh).
 */
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverOnPackage } from '../common/server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const variants = Number(process.argv[2] ?? 10000);
const calls = Number(process.argv[3] ?? 30);
const rpz = join(root, '.state', 'examples', 'slow-printer.rpz');

const sleep = ms => new Promise(r => setTimeout(r, ms));
const median = values =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const max = values => values.reduce((a, b) => Math.max(a, b), 0);

const { child, api, base } = await serverOnPackage('bench-sweep-poll-', rpz, {
  REPROSERVER_MAX_CONCURRENT_RUNS: '1',
  REPROSERVER_MAX_QUEUED_RUNS: String(variants + 100),
  REPROSERVER_RUNS_PER_MINUTE: '100000'
});

/**
 * One call of `path` with a health probe right behind it (on another connection, the first being
 * busy): [call, probe latency]. The probe waits only for the server's event loop.
 */
async function probed(path) {
  const answer = api('GET', path);
  await sleep(1);
  const health = api('GET', '/api/health');
  return [await answer, (await health).ms];
}

try {
  const pkg = (await api('POST', '/api/packages', { path: 'package.rpz' }))
    .body;
  const created = await api('POST', '/api/sweeps', {
    package: pkg.sha256,
    backend: 'sandbox',
    acceptWeakIsolation: true,
    axes: [
      {
        field: { kind: 'arg', step: 0, index: 2 },
        // slow.sh COUNT: long enough that one runs while the others wait.
        values: { kind: 'range', start: 600, stop: 600 + variants - 1, step: 1 }
      }
    ]
  });
  if (created.status !== 201) throw new Error(created.text);
  const id = created.body.id;
  for (;;) {
    const { sweeps } = (await api('GET', '/api/sweeps')).body;
    if (!sweeps.find(s => s.id === id).creating) break;
    await sleep(200);
  }
  await sleep(1000);

  const idle = [];
  for (let i = 0; i < calls; i++) {
    idle.push((await api('GET', '/api/health')).ms);
  }
  const idleMs = median(idle);
  const full = { ms: [], blockMs: [], bytes: 0, rows: 0 };
  const incremental = { ms: [], blockMs: [], bytes: 0, rows: 0 };
  let revision = (await api('GET', `/api/sweeps/${id}`)).body.revision;
  if (typeof revision !== 'string') {
    console.log('(the server answers no revision: incremental polling absent)');
  }
  for (let i = 0; i < calls; i++) {
    const [a, aProbe] = await probed(`/api/sweeps/${id}`);
    full.ms.push(a.ms);
    full.blockMs.push(Math.max(0, aProbe - idleMs));
    full.bytes = a.text.length;
    full.rows = a.body.variants.length;
    if (typeof revision === 'string') {
      const [b, bProbe] = await probed(
        `/api/sweeps/${id}?since=${encodeURIComponent(revision)}`
      );
      incremental.ms.push(b.ms);
      incremental.blockMs.push(Math.max(0, bProbe - idleMs));
      incremental.bytes = Math.max(incremental.bytes, b.text.length);
      incremental.rows = Math.max(incremental.rows, b.body.variants.length);
      revision = b.body.revision;
    }
    await sleep(50);
  }
  const line = (name, form) =>
    `${name}: response ${median(form.ms).toFixed(1)} ms median (max ${max(form.ms).toFixed(1)}), event loop blocked ~${median(form.blockMs).toFixed(1)} ms median (max ${max(form.blockMs).toFixed(1)}), ${(form.bytes / 1024).toFixed(0)} KiB, ${form.rows} rows`;
  console.log(
    `GET /api/sweeps/{id} of a ${variants}-variant sweep, ${calls} calls each (health alone: ${idleMs.toFixed(1)} ms median)`
  );
  console.log(line('full', full));
  if (incremental.ms.length > 0) {
    console.log(line('incremental (?since=)', incremental));
    console.log(
      `ratio full/incremental: response ${(median(full.ms) / median(incremental.ms)).toFixed(0)}×, block ${(median(full.blockMs) / Math.max(0.1, median(incremental.blockMs))).toFixed(0)}×`
    );
  }
} finally {
  child.kill('SIGTERM');
  await new Promise(r => child.once('exit', r));
  rmSync(base, { recursive: true, force: true });
}
