#!/usr/bin/env node
/**
 * Sweep benchmark: a sweep of VARIANTS runs of a small package, against VARIANTS × one warm run /
 * the concurrency limit, both measured in the same run of this script, through the real server's
 * API (`POST /api/sweeps` and `POST /api/runs`). A single run's end is when its events socket
 * closes (no polling to round it up); the sweep is polled with `?since=`, as the panel polls it,
 * every 250 ms while more than a few runs are left and every 5 ms near its end: its end is timed
 * as closely, and the bench's own requests weigh on the server no more than they must (the panel
 * asks every 2 s).
 *
 *   node bench/sweeps/sweep.mjs [BACKENDS] [VARIANTS] [ROUNDS]
 *
 * BACKENDS: comma-separated, default `sandbox` (add `docker` with DOCKER_SOCKET in the
 * environment: `set -a; . .state/services.env; set +a`). VARIANTS defaults to 20, ROUNDS to 3
 * (medians; the single runs and the sweeps are interleaved so machine noise hits them alike).
 * SWEEP_BENCH_CONCURRENCY sets the server's concurrency limit (default: the CPUs, at most 4).
 * SWEEP_BENCH_PACKAGE names the package (default .state/examples/shell-pipeline.rpz); its step 0's
 * last argument is swept over 1…VARIANTS. Needs the server built (`npm run build:server`).
 * Reports the ratio (target from issue #15: within 1.3×), how many images the runs used, and where
 * the time went: how long a run took inside the sweep (runs sharing a small machine run slower)
 * and how busy the concurrency slots were (gaps in the queue would show here).
 * On Docker it also measures the engine's own floor, in the same rounds (`docker-floor.mjs`): the
 * container lifecycle of one run on the bare engine, one at a time and the same number at a time,
 * with no server of ours: the part of the ratio that the engine already has on this machine.
 * For both it reports the machine's CPU time per run during the sweeps (all processes, from
 * /proc/stat): what our server and the engine spend on a run, next to what the engine alone does.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverOnPackage } from '../common/server.mjs';
import { bareDockerRun, bareDockerSweep } from './docker-floor.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const backends = (process.argv[2] ?? 'sandbox').split(',');
const variants = Number(process.argv[3] ?? 20);
const rounds = Number(process.argv[4] ?? 3);
const rpz = resolve(
  process.env.SWEEP_BENCH_PACKAGE ??
    join(root, '.state', 'examples', 'shell-pipeline.rpz')
);
const concurrency = Number(
  process.env.SWEEP_BENCH_CONCURRENCY ?? Math.min(availableParallelism(), 4)
);

const median = values =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const sleep = ms => new Promise(r => setTimeout(r, ms));
/** CPU time the whole machine has spent busy so far, in ms (null where /proc/stat is not). */
const busyMs = () => {
  if (!existsSync('/proc/stat')) return null;
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]
    .split(/\s+/);
  // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
  const busy = ticks
    .slice(0, 8)
    .map(Number)
    .filter((_, i) => i !== 3 && i !== 4)
    .reduce((a, b) => a + b, 0);
  return (busy * 1000) / 100; // USER_HZ is 100 on Linux
};
/** Runs `work` and adds the machine's busy CPU ms it took to `into`. */
const counted = async (into, work) => {
  const before = busyMs();
  const result = await work();
  if (before !== null) into.push(busyMs() - before);
  return result;
};
/** The statuses of a run that has not ended. */
const LIVE = ['queued', 'building', 'running'];

const { child, api, runEnded, base } = await serverOnPackage(
  'bench-sweep-',
  rpz,
  {
    REPROSERVER_MAX_CONCURRENT_RUNS: String(concurrency),
    REPROSERVER_RUNS_PER_MINUTE: '100000'
  }
);

try {
  const pkg = (await api('POST', '/api/packages', { path: 'package.rpz' }))
    .body;
  const details = (await api('GET', `/api/packages/${pkg.sha256}`)).body;
  const index = details.model.runs[0].argv.length - 1;
  const arg = value => ({
    stepEdits: [{ step: 0, args: [{ index, value: String(value) }] }]
  });

  const waitRun = async id => {
    await runEnded(id);
    return (await api('GET', `/api/runs/${id}`)).body;
  };
  const oneRun = async backend => {
    const started = performance.now();
    const created = await api('POST', '/api/runs', {
      package: pkg.sha256,
      backend,
      acceptWeakIsolation: true,
      edits: arg(1)
    });
    if (created.status !== 202) throw new Error(created.text);
    const run = await waitRun(created.body.id);
    if (run.status !== 'succeeded') throw new Error(`run ${run.status}`);
    return performance.now() - started;
  };
  const sweep = async backend => {
    const started = performance.now();
    const created = await api('POST', '/api/sweeps', {
      package: pkg.sha256,
      backend,
      acceptWeakIsolation: true,
      axes: [
        {
          field: { kind: 'arg', step: 0, index },
          values: { kind: 'range', start: 1, stop: variants, step: 1 }
        }
      ]
    });
    if (created.status !== 201) throw new Error(created.text);
    // Polled as the panel polls it: only the rows changed since the last answer (`since`).
    let since = '';
    for (;;) {
      const changes = (
        await api(
          'GET',
          `/api/sweeps/${created.body.id}${since && `?since=${encodeURIComponent(since)}`}`
        )
      ).body;
      since = changes.revision;
      const counted = Object.values(changes.counts).reduce((a, b) => a + b, 0);
      if (changes.ended && counted === changes.total) {
        const ms = performance.now() - started;
        const record = (await api('GET', `/api/sweeps/${created.body.id}`))
          .body;
        if (record.counts.succeeded !== variants)
          throw new Error(`sweep: ${JSON.stringify(record.counts)}`);
        const runs = await Promise.all(
          record.variants.map(
            async v => (await api('GET', `/api/runs/${v.run}`)).body
          )
        );
        // Where the time went: the runs themselves (slower when they share the machine), or
        // gaps in the queue (a slot idle between one run's end and the next one's start).
        const busyMs = runs.reduce(
          (sum, r) => sum + (Date.parse(r.endedAt) - Date.parse(r.startedAt)),
          0
        );
        return {
          ms,
          images: new Set(runs.map(r => r.image)).size,
          meanRunMs: busyMs / runs.length,
          slotUse: busyMs / concurrency / ms
        };
      }
      const left =
        changes.total -
        counted +
        LIVE.reduce((sum, status) => sum + (changes.counts[status] ?? 0), 0);
      await sleep(left > 2 * concurrency ? 250 : 5);
    }
  };

  // The engine's floor, on the image the warm run used (`docker-floor.mjs`).
  const bareDocker = async () => {
    const created = await api('POST', '/api/runs', {
      package: pkg.sha256,
      backend: 'docker',
      edits: arg(1)
    });
    const { image } = await waitRun(created.body.id);
    const run = bareDockerRun({
      socket: process.env.DOCKER_SOCKET,
      image,
      model: details.model
    });
    return {
      run,
      timeOne: async () => {
        const started = performance.now();
        await run(1);
        return performance.now() - started;
      }
    };
  };

  console.log(
    `sweep of ${variants} variants of ${rpz.split('/').pop()} (argument ${index} over 1…${variants}), ${concurrency} runs at a time, median of ${rounds}`
  );
  for (const backend of backends) {
    // Warm: the image built or the tree unpacked, once.
    await oneRun(backend);
    const bare = backend === 'docker' ? await bareDocker() : null;
    const singles = [];
    const sweeps = [];
    const bareSingles = [];
    const bareSweeps = [];
    const cpu = [];
    const bareCpu = [];
    let images = 0;
    for (let i = 0; i < rounds; i++) {
      for (let j = 0; j < 3; j++) singles.push(await oneRun(backend));
      const result = await counted(cpu, () => sweep(backend));
      sweeps.push(result);
      images = Math.max(images, result.images);
      if (bare) {
        for (let j = 0; j < 3; j++) bareSingles.push(await bare.timeOne());
        bareSweeps.push(
          await counted(bareCpu, () =>
            bareDockerSweep(bare.run, variants, concurrency)
          )
        );
      }
    }
    const one = median(singles);
    const ideal = (variants * one) / concurrency;
    const took = median(sweeps.map(s => s.ms));
    const mid = sweeps.find(s => s.ms === took);
    console.log(
      `  ${backend.padEnd(8)} one warm run ${one.toFixed(0)} ms; ${variants} × one / ${concurrency} = ${ideal.toFixed(0)} ms; sweep ${took.toFixed(0)} ms: ${(took / ideal).toFixed(2)}× (images used by the sweep's runs: ${images}); in the sweep a run took ${mid.meanRunMs.toFixed(0)} ms on average (started to ended, ${(mid.meanRunMs / one).toFixed(2)}× one warm run's round trip) and the ${concurrency} slots were busy ${(mid.slotUse * 100).toFixed(0)}% of the time`
    );
    const cpuPerRun = list =>
      list.length ? `${(median(list) / variants).toFixed(0)} ms` : 'unknown';
    console.log(
      `  ${''.padEnd(8)} the machine's CPU time per run in the sweep (all processes): ${cpuPerRun(cpu)}`
    );
    if (bare) {
      const bareOne = median(bareSingles);
      const bareIdeal = (variants * bareOne) / concurrency;
      const bareTook = median(bareSweeps);
      console.log(
        `  ${'(engine)'.padEnd(8)} the bare engine's lifecycle of one run (create, start, exec the step, copy the output out, remove; no server): one ${bareOne.toFixed(0)} ms; ${variants} × one / ${concurrency} = ${bareIdeal.toFixed(0)} ms; ${variants} at ${concurrency} at a time ${bareTook.toFixed(0)} ms: ${(bareTook / bareIdeal).toFixed(2)}×. Our sweep took ${(took / bareTook).toFixed(2)}× the bare engine's; the machine's CPU time per run: ${cpuPerRun(bareCpu)}.`
      );
    }
  }
} finally {
  child.kill('SIGTERM');
  await new Promise(r => child.once('exit', r));
  rmSync(base, { recursive: true, force: true });
}
