#!/usr/bin/env node
/**
 * Slurm backend benchmark: the wall time of a whole run on Slurm (copy of the package's tree into
 * the shared folder, the batch script, sbatch, following the step's files, output collection,
 * removal) against a bare `sbatch --wait` of the same command, measured in the same run, round by
 * round in alternating order:
 *
 * - ours: `runOnSlurm` of the package as recorded;
 * - bare: the same step's sandbox command line (`stepArgv`, on a tree copied once beforehand, no
 *   id emulation) in a batch script of one step, `sbatch --wait`;
 * - bare, polled: the same script, `sbatch --parsable`, then `scontrol show job` every 50 ms until
 *   it ended (`sbatch --wait` itself polls every 2 s and more, a floor of its own).
 *
 *   node bench/slurm/overhead.mjs [PACKAGE.rpz]... [ROUNDS]
 *
 * Needs the server built (`npm run build:server`) and the one-node cluster running
 * (`scripts/services/slurm.sh start`, then `set -a; source .state/services.env; set +a`).
 * Default packages: shell-pipeline.rpz and python-options.rpz from .state/examples; 5 rounds.
 * Prints medians in milliseconds, and ours minus each bare floor and as a ratio of it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'server', 'package.json'));
const dist = join(root, 'server', 'dist');
const { readPackage } = require(join(dist, 'rpz'));
const { planRun } = require(join(dist, 'runs', 'plan'));
const { prepareRootfs, removeTree } = require(join(dist, 'sandbox'));
const { runOnSlurm } = require(join(dist, 'backends', 'slurm', 'runner'));
const { jobEnvironment } = require(join(dist, 'backends', 'slurm', 'commands'));
const { jobScript } = require(join(dist, 'backends', 'slurm', 'job-script'));
const { stepArgv } = require(join(dist, 'backends', 'sandbox', 'step-argv'));
const { detectSandbox } = require(join(dist, 'backends', 'sandbox', 'detect'));
const { helperPath } = require(join(dist, 'backends', 'docker', 'helper-path'));
const { DirectorySink } = require(join(dist, 'runs', 'output-sink'));

const shared = process.env.REPROSERVER_SLURM_SHARED;
if (!shared || !process.env.SLURM_CONF) {
  console.error(
    'Start the cluster first: scripts/services/slurm.sh start; set -a; source .state/services.env; set +a'
  );
  process.exit(2);
}
const partition = process.env.REPROSERVER_SLURM_PARTITION;
const args = process.argv.slice(2);
const rounds = Number(args.find(a => /^\d+$/.test(a)) ?? 5);
const named = args.filter(a => !/^\d+$/.test(a));
const examples = join(root, '.state', 'examples');
const packages = (
  named.length > 0
    ? named
    : ['shell-pipeline.rpz', 'python-options.rpz'].map(n => join(examples, n))
).map(p => resolve(p));

mkdirSync(shared, { recursive: true });
const work = mkdtempSync(join(shared, 'bench-'));
const median = values =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = ms => new Promise(r => setTimeout(r, ms));

async function ours(rpz, model, rootfs) {
  const plan = planRun(model, {});
  const out = mkdtempSync(join(work, 'out-'));
  const started = now();
  const result = await runOnSlurm({
    plan,
    rootfs,
    shared: work,
    partition,
    name: `bench-${randomBytes(4).toString('hex')}`,
    sink: new DirectorySink(out),
    onEvent: () => undefined
  });
  const ms = now() - started;
  if (result.status !== 'succeeded') {
    throw new Error(`${basename(rpz)}: ${JSON.stringify(result)}`);
  }
  return ms;
}

/** A one-step batch script running the step's sandbox command on a tree copied beforehand. */
async function bareScript(model, rootfs, sandbox) {
  const plan = planRun(model, {});
  const dir = mkdtempSync(join(work, 'bare-'));
  mkdirSync(join(dir, 'steps'));
  execFileSync('cp', ['-a', '--reflink=auto', rootfs.root, join(dir, 'root')]);
  const command = stepArgv({
    sandbox,
    helper: helperPath(),
    hostname: plan.hostname,
    root: join(dir, 'root'),
    step: plan.steps[0]
  });
  const script = join(dir, 'job.sh');
  writeFileSync(script, jobScript(dir, [{ command, emulation: false }]));
  return { dir, script };
}

const sbatchArgs = (dir, script) => [
  ...(partition ? [`--partition=${partition}`] : []),
  `--output=${join(dir, 'job.out')}`,
  `--chdir=${dir}`,
  // As the backend submits: its pared environment, exported (`commands.ts`).
  '--export=ALL',
  script
];
const env = jobEnvironment();

function bareWait({ dir, script }) {
  const started = now();
  execFileSync('sbatch', ['--wait', '--quiet', ...sbatchArgs(dir, script)], {
    env
  });
  return now() - started;
}

async function barePolled({ dir, script }) {
  const started = now();
  const id = execFileSync(
    'sbatch',
    ['--parsable', ...sbatchArgs(dir, script)],
    {
      encoding: 'utf8'
    }
  )
    .trim()
    .split(';')[0];
  for (;;) {
    const line = execFileSync('scontrol', ['show', 'job', '-o', id], {
      encoding: 'utf8'
    });
    if (/JobState=(COMPLETED|FAILED|CANCELLED|TIMEOUT)\b/.test(line)) {
      return now() - started;
    }
    await sleep(50);
  }
}

const sandbox = await detectSandbox();
console.log(
  `Slurm run overhead, ${rounds} rounds, medians (${sandbox.mechanism})`
);
for (const rpz of packages) {
  const model = await readPackage(rpz);
  const rootfs = await prepareRootfs(rpz, {
    stateDir: work,
    sha256: model.sha256 ?? undefined
  });
  const bare = await bareScript(model, rootfs, sandbox);
  await ours(rpz, model, rootfs); // warm-up: caches, the helper's first copy
  const times = { ours: [], wait: [], polled: [] };
  for (let round = 0; round < rounds; round++) {
    const order =
      round % 2 === 0 ? ['ours', 'wait', 'polled'] : ['polled', 'wait', 'ours'];
    for (const which of order) {
      times[which].push(
        which === 'ours'
          ? await ours(rpz, model, rootfs)
          : which === 'wait'
            ? bareWait(bare)
            : await barePolled(bare)
      );
    }
  }
  const m = Object.fromEntries(
    Object.entries(times).map(([k, v]) => [k, median(v)])
  );
  console.log(
    `${basename(rpz)} (${rootfs.info.entries} entries): ours ${m.ours.toFixed(0)} ms; ` +
      `bare sbatch --wait ${m.wait.toFixed(0)} ms (ours ${(m.ours - m.wait).toFixed(0)} ms, ${(m.ours / m.wait).toFixed(2)}×); ` +
      `bare sbatch polled at 50 ms ${m.polled.toFixed(0)} ms (ours ${(m.ours - m.polled).toFixed(0)} ms, ${(m.ours / m.polled).toFixed(2)}×)`
  );
}
await removeTree(work);
