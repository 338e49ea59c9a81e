#!/usr/bin/env node
/**
 * Sweeps at scale, through the real server process and its API, on the sandbox backend:
 *
 * - memory: the server's RSS (VmRSS) before any sweep, with a 1,000-variant sweep recorded (its
 *   runs queued behind one running at a time), and after cancelling its 1,000 runs, against the
 *   same process's RSS before the sweep (issue #15: under 150 MiB); and the memory of the
 *   sandbox's spawner, the server's child that starts the runs' processes (`spawner.ts`);
 * - creation: how long `POST /api/sweeps` of 10,000 variants takes to answer, how long until its
 *   10,000 runs are created (in the background), and the p99 of `GET /api/health` meanwhile
 *   against its p99 with the server idle, both measured in this run.
 *
 *   node bench/sweeps/scale.mjs [VARIANTS_MEMORY] [VARIANTS_CREATE]
 *
 * Defaults 1000 and 10000. Needs the server built (`npm run build:server`) and the examples
 * (`.state/examples/slow-printer.rpz`, made by scripts/make-examples.sh).
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverOnPackage } from '../common/server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const memoryVariants = Number(process.argv[2] ?? 1000);
const createVariants = Number(process.argv[3] ?? 10000);
const rpz = join(root, '.state', 'examples', 'slow-printer.rpz');

const sleep = ms => new Promise(r => setTimeout(r, ms));
const rssMiB = pid =>
  Number(
    /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]
  ) / 1024;
/**
 * The server's spawner process (found in /proc): its RSS and its own memory (private pages: the
 * rest is the Node.js binary's, shared with the server), in MiB; null when there is none.
 */
const spawnerMemory = () => {
  for (const name of readdirSync('/proc')) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (
        ppid === child.pid &&
        readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(
          'spawner-process'
        )
      ) {
        const rollup = readFileSync(`/proc/${name}/smaps_rollup`, 'utf8');
        const kib = field =>
          Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(rollup)[1]);
        return {
          rss: kib('Rss') / 1024,
          own: (kib('Private_Clean') + kib('Private_Dirty')) / 1024
        };
      }
    } catch {
      // gone meanwhile, or not a process
    }
  }
  return null;
};
const describeSpawner = memory =>
  memory
    ? `RSS ${memory.rss.toFixed(0)} MiB, ${memory.own.toFixed(0)} MiB of it its own (the rest is Node.js's code, shared with the server)`
    : 'not started';
const percentile = (values, p) =>
  [...values].sort((a, b) => a - b)[
    Math.min(values.length - 1, Math.floor((values.length * p) / 100))
  ];

const { child, api, base } = await serverOnPackage('bench-sweep-scale-', rpz, {
  REPROSERVER_MAX_CONCURRENT_RUNS: '1',
  REPROSERVER_RUNS_PER_MINUTE: '100000'
});

/** The health endpoint's latencies, asked every 10 ms (as a busy panel would) until `until`. */
async function healthLatencies(until) {
  const ms = [];
  let done = false;
  void until.then(() => (done = true));
  while (!done) {
    ms.push((await api('GET', '/api/health')).ms);
    await sleep(10);
  }
  return ms;
}

/** Polls a sweep's summary (not its rows) until `ready(summary)`. */
async function waitSweep(id, ready) {
  for (;;) {
    const { sweeps } = (await api('GET', '/api/sweeps')).body;
    const summary = sweeps.find(s => s.id === id);
    if (ready(summary)) return summary;
    await sleep(200);
  }
}

try {
  const pkg = (await api('POST', '/api/packages', { path: 'package.rpz' }))
    .body;
  const sweepOf = n => ({
    package: pkg.sha256,
    backend: 'sandbox',
    acceptWeakIsolation: true,
    axes: [
      {
        field: { kind: 'arg', step: 0, index: 2 },
        // slow.sh COUNT: long enough that one runs while the others wait.
        values: { kind: 'range', start: 600, stop: 600 + n - 1, step: 1 }
      }
    ]
  });

  // Warm: the package unpacked once and a run's code paths loaded, as in a server in use.
  const warm = await api('POST', '/api/sweeps', {
    ...sweepOf(2),
    axes: [
      {
        field: { kind: 'arg', step: 0, index: 2 },
        values: { kind: 'list', values: ['1', '1'] }
      }
    ]
  });
  await waitSweep(warm.body.id, r => r.ended);
  await sleep(1000);
  const rssBefore = rssMiB(child.pid);

  const big = await api('POST', '/api/sweeps', sweepOf(memoryVariants));
  if (big.status !== 201) throw new Error(big.text);
  await waitSweep(big.body.id, r => !r.creating);
  await sleep(1000);
  const rssRecorded = rssMiB(child.pid);
  const cancelled = await api('POST', `/api/sweeps/${big.body.id}/cancel`);
  if (cancelled.status !== 200) throw new Error(cancelled.text);
  await waitSweep(big.body.id, r => r.ended);
  await sleep(1000);
  const rssCancelled = rssMiB(child.pid);
  console.log(
    `server RSS: ${rssBefore.toFixed(0)} MiB before; ${rssRecorded.toFixed(0)} MiB with a ${memoryVariants}-variant sweep recorded (+${(rssRecorded - rssBefore).toFixed(0)}); ${rssCancelled.toFixed(0)} MiB after cancelling its runs (+${(rssCancelled - rssBefore).toFixed(0)}); target under 150 MiB; its sandbox spawner ${describeSpawner(spawnerMemory())}`
  );

  // The health endpoint idle, then during the creation of a big sweep.
  const idle = await healthLatencies(sleep(3000));
  const started = performance.now();
  let answeredMs = 0;
  let createdMs = 0;
  const creation = (async () => {
    const created = await api('POST', '/api/sweeps', sweepOf(createVariants));
    answeredMs = performance.now() - started;
    if (created.status !== 201) throw new Error(created.text);
    await waitSweep(created.body.id, r => !r.creating);
    createdMs = performance.now() - started;
    return created.body.id;
  })();
  const busy = await healthLatencies(creation);
  const id = await creation;
  console.log(
    `sweep of ${createVariants}: answered in ${answeredMs.toFixed(0)} ms, all runs created in ${(createdMs / 1000).toFixed(1)} s; GET /api/health p99 ${percentile(busy, 99).toFixed(1)} ms meanwhile (${busy.length} calls, max ${busy.reduce((a, b) => Math.max(a, b), 0).toFixed(1)} ms) vs ${percentile(idle, 99).toFixed(1)} ms idle (${(percentile(busy, 99) / percentile(idle, 99)).toFixed(1)}×)`
  );
  const cancelStarted = performance.now();
  await api('POST', `/api/sweeps/${id}/cancel`);
  console.log(
    `cancelling its ${createVariants} runs: ${((performance.now() - cancelStarted) / 1000).toFixed(1)} s; server RSS then ${rssMiB(child.pid).toFixed(0)} MiB`
  );
} finally {
  child.kill('SIGTERM');
  await new Promise(r => child.once('exit', r));
  rmSync(base, { recursive: true, force: true });
}
