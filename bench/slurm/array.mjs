#!/usr/bin/env node
/**
 * A sweep on Slurm as ONE job array: the wall time of a VARIANTS-variant sweep of a small
 * package (`formula`, its argument swept) through the real server process and its API, from
 * `POST /api/sweeps` until every run has ended, against the floor a single machine gives for the
 * same work: VARIANTS × one warm sandbox run (the package unpacked once; `runOnSandbox`, median
 * of ROUNDS) / the cores Slurm may use (the node's CPUs in slurm.conf), measured in the same run;
 * and against Slurm alone: an array of as many tasks doing nothing, with the same `%K` (the
 * controller starts throttled tasks on its own schedule, a floor no backend goes under). The
 * server's concurrency limit, and so the array's `%K`, is the node's CPUs.
 *
 *   node bench/slurm/array.mjs [VARIANTS] [ROUNDS]
 *
 * Needs the server built (`npm run build:server`), the examples (`.state/examples/formula.rpz`,
 * scripts/make-examples.sh) and the one-node cluster (`scripts/services/slurm.sh start`, then
 * `set -a; source .state/services.env; set +a`). Default: 200 variants, 5 warm rounds.
 * Prints the times, the ratios, the sweep's array job ids (one) and the node's CPUs.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call, startServer } from '../common/server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'server', 'package.json'));
const dist = join(root, 'server', 'dist');
const { readPackage } = require(join(dist, 'rpz'));
const { planRun } = require(join(dist, 'runs', 'plan'));
const { prepareRootfs } = require(join(dist, 'sandbox'));
const { runOnSandbox } = require(join(dist, 'backends', 'sandbox', 'runner'));
const { DirectorySink } = require(join(dist, 'runs', 'output-sink'));

const shared = process.env.REPROSERVER_SLURM_SHARED;
if (!shared || !process.env.SLURM_CONF) {
  console.error(
    'Start the cluster first: scripts/services/slurm.sh start; set -a; source .state/services.env; set +a'
  );
  process.exit(2);
}
const args = process.argv.slice(2).map(Number);
const variants = args[0] || 200;
const rounds = args[1] || 5;
const rpz = join(root, '.state', 'examples', 'formula.rpz');
const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = values =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const sleep = ms => new Promise(r => setTimeout(r, ms));

/** The node's CPUs as slurm.conf gives them (what Slurm may run at once here). */
const cpus = Number(
  /^NodeName=.*\bCPUs=(\d+)/m.exec(
    readFileSync(process.env.SLURM_CONF, 'utf8')
  )?.[1] ?? 1
);

// The baseline: one warm sandbox run of the same package, its argument changed as a variant's.
const work = mkdtempSync(join(tmpdir(), 'bench-slurm-array-'));
const model = await readPackage(rpz);
const rootfs = await prepareRootfs(rpz, {
  stateDir: work,
  sha256: model.sha256 ?? undefined
});
const warm = [];
for (let round = 0; round < rounds + 1; round++) {
  const plan = planRun(model, {
    stepEdits: [{ step: 0, args: [{ index: 2, value: String(round) }] }]
  });
  const started = now();
  const result = await runOnSandbox({
    plan,
    rootfs,
    stateDir: work,
    sink: new DirectorySink(mkdtempSync(join(work, 'out-'))),
    onEvent: () => undefined
  });
  if (result.status !== 'succeeded') {
    throw new Error(`sandbox run: ${JSON.stringify(result)}`);
  }
  // The first round may still warm caches: not counted.
  if (round > 0) {
    warm.push(now() - started);
  }
}
const oneRun = median(warm);
const floor = (variants * oneRun) / cpus;

/**
 * Slurm's own floor for an array this size: `sbatch --array=0-(N-1)%K` of a command doing
 * nothing, as ours is submitted (memory, partition), from submission until no task is left.
 */
async function bareArray() {
  const started = now();
  const id = execFileSync(
    'sbatch',
    [
      '--parsable',
      `--array=0-${variants - 1}%${cpus}`,
      '--mem=100M',
      ...(process.env.REPROSERVER_SLURM_PARTITION
        ? [`--partition=${process.env.REPROSERVER_SLURM_PARTITION}`]
        : []),
      '--output=/dev/null',
      '--wrap=true'
    ],
    { encoding: 'utf8' }
  )
    .trim()
    .split(';')[0];
  while (
    execFileSync('squeue', ['-h', '-j', id], { encoding: 'utf8' }).trim() !== ''
  ) {
    await sleep(50);
  }
  return now() - started;
}
const bare = await bareArray();

// The sweep: the real server, its runs as one array of the cluster.
mkdirSync(shared, { recursive: true });
const sweepShared = mkdtempSync(join(shared, 'bench-array-'));
const workspace = mkdtempSync(join(work, 'workspace-'));
mkdirSync(join(workspace, 'packages'));
copyFileSync(rpz, join(workspace, 'packages', 'formula.rpz'));
const token = 'bench-' + Math.random().toString(36).slice(2);
const { child, url } = await startServer(mkdtempSync(join(work, 'state-')), {
  REPROSERVER_TOKEN: token,
  REPROSERVER_WORKSPACE: workspace,
  REPROSERVER_SLURM_SHARED: sweepShared,
  REPROSERVER_MAX_CONCURRENT_RUNS: String(cpus),
  REPROSERVER_MAX_QUEUED_RUNS: String(Math.max(10_000, variants))
});
const api = (method, path, body) => call(url, token, method, path, body);
try {
  const pkg = (
    await api('POST', '/api/packages', { path: 'packages/formula.rpz' })
  ).body.sha256;
  // The package unpacked into the shared folder once, before the clock starts (as the
  // baseline's was): one run of it.
  const first = await api('POST', '/api/runs', {
    package: pkg,
    backend: 'slurm'
  });
  for (;;) {
    const run = (await api('GET', `/api/runs/${first.body.id}`)).body;
    if (!['queued', 'building', 'running'].includes(run.status)) break;
    await sleep(100);
  }
  const started = now();
  const created = await api('POST', '/api/sweeps', {
    package: pkg,
    axes: [
      {
        field: { kind: 'arg', step: 0, index: 2 },
        values: { kind: 'range', start: 1, stop: variants, step: 1 }
      }
    ],
    backend: 'slurm'
  });
  if (created.status !== 201) {
    throw new Error(`POST /api/sweeps: ${created.status} ${created.text}`);
  }
  let sweep;
  for (;;) {
    sweep = (await api('GET', `/api/sweeps/${created.body.id}`)).body;
    if (sweep.ended && sweep.variants.length === sweep.total) break;
    await sleep(100);
  }
  const wall = now() - started;
  const arrays = new Set(
    execFileSync('scontrol', ['show', 'job', '-o'], {
      encoding: 'utf8',
      // Every job the controller keeps (MinJobAge: a day here), ~1.5 KB each.
      maxBuffer: 256 * 1024 * 1024
    })
      .split('\n')
      .filter(line =>
        line.includes(` JobName=reproserver-sweep-${created.body.id} `)
      )
      .map(line => /ArrayJobId=(\d+)/.exec(line)?.[1])
  );
  console.log(
    `Slurm sweep as a job array: ${variants} variants of formula, node CPUs ${cpus} (slurm.conf), K = ${cpus}`
  );
  console.log(
    `  runs: ${JSON.stringify(sweep.counts)}; array job ids: ${[...arrays].join(', ')}`
  );
  console.log(
    `  one warm sandbox run (median of ${rounds}): ${oneRun.toFixed(0)} ms; floor ${variants} × that / ${cpus} cores: ${(floor / 1000).toFixed(1)} s`
  );
  console.log(`  sweep, POST to all ended: ${(wall / 1000).toFixed(1)} s`);
  console.log(
    `  Slurm alone, an array of ${variants} tasks doing nothing, %${cpus}: ${(bare / 1000).toFixed(1)} s`
  );
  console.log(
    `  ratio sweep / floor: ${(wall / floor).toFixed(2)}; sweep / Slurm alone: ${(wall / bare).toFixed(2)}`
  );
} finally {
  child.kill('SIGTERM');
  await new Promise(r => child.once('exit', r));
  rmSync(work, { recursive: true, force: true });
  rmSync(sweepShared, { recursive: true, force: true });
}
