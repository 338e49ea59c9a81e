#!/usr/bin/env node
/**
 * Sandbox backend benchmark: the first run of a package (extract into the rootfs cache + run) and
 * a warm re-run with a changed argument, against their floors, measured in the same process:
 *
 * - extraction floor: `gzip -dc DATA.tar.gz | tar -x` of the same package's data;
 * - run floor: the experiment alone, i.e. the same step started directly in bubblewrap on a tree
 *   prepared beforehand (no copy, no output collection);
 * - optionally reprounzip (`reprounzip directory setup` then `directory run`), when REPROUNZIP
 *   names its executable (e.g. one installed in a throwaway venv under /tmp).
 *
 *   node bench/sandbox/first-and-warm.mjs [PACKAGE.rpz | --big] [ROUNDS]
 *
 * `--big` builds a larger package from python-options.rpz by adding the host's
 * /usr/lib/python3.11 and /usr/share/doc to its data (thousands of small files, ~200 MB), to see how
 * extraction and the per-run copy scale. Needs the server built (`npm run build:server`).
 * Prints medians in milliseconds and the ratios the targets are about (extraction ≤ 1.5× the floor;
 * warm overhead < 300 ms beyond the experiment's own time).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'server', 'package.json'));
const dist = join(root, 'server', 'dist');
const { readPackage } = require(join(dist, 'rpz'));
const { planRun } = require(join(dist, 'runs', 'plan'));
const { prepareRootfs, removeTree } = require(join(dist, 'sandbox'));
const { runOnSandbox } = require(join(dist, 'backends', 'sandbox', 'runner'));
const { detectSandbox } = require(join(dist, 'backends', 'sandbox', 'detect'));
const { helperPath } = require(join(dist, 'backends', 'docker', 'helper-path'));
const { DirectorySink } = require(join(dist, 'runs', 'output-sink'));

const work = mkdtempSync(join(tmpdir(), 'bench-sandbox-'));
const examples = join(root, '.state', 'examples');
let rpz = process.argv[2] ?? join(examples, 'python-options.rpz');
const rounds = Number(process.argv[3] ?? 5);

if (rpz === '--big') {
  rpz = buildBig(join(examples, 'python-options.rpz'));
}
rpz = resolve(rpz);

const median = values =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const now = () => Number(process.hrtime.bigint()) / 1e6;
const fmt = ms => `${ms.toFixed(0)} ms`;

function buildBig(base) {
  const dir = join(work, 'big');
  mkdirSync(join(dir, 'extra', 'DATA', 'usr', 'share', 'bulk'), {
    recursive: true
  });
  execFileSync('tar', ['-xf', base, '-C', dir]);
  execFileSync('sh', [
    '-c',
    `gzip -dc "${dir}/DATA.tar.gz" > "${dir}/data.tar"`
  ]);
  for (const source of ['/usr/lib/python3.11', '/usr/share/doc']) {
    if (existsSync(source)) {
      execFileSync('cp', [
        '-a',
        source,
        join(dir, 'extra', 'DATA', 'usr', 'share', 'bulk')
      ]);
    }
  }
  // Drop the end-of-archive blocks, then append the bulk files.
  execFileSync('tar', [
    '-rf',
    join(dir, 'data.tar'),
    '-C',
    join(dir, 'extra'),
    'DATA/usr/share/bulk'
  ]);
  execFileSync('sh', [
    '-c',
    `gzip -6 -c "${dir}/data.tar" > "${dir}/DATA.tar.gz" && rm "${dir}/data.tar"`
  ]);
  const out = join(work, 'big.rpz');
  execFileSync('tar', ['-cf', out, '-C', dir, 'DATA.tar.gz', 'METADATA']);
  return out;
}

const model = await readPackage(rpz);
const sandbox = await detectSandbox();
console.log(
  `package: ${rpz} (${(model.size / 1e6).toFixed(1)} MB, sha256 ${model.sha256.slice(0, 12)}…)`
);
console.log(sandbox.detail);

// The data, once, for the floor.
const floorDir = join(work, 'floor');
mkdirSync(floorDir);
execFileSync('tar', ['-xf', rpz, '-C', floorDir, 'DATA.tar.gz']);
const floor = [];
for (let i = 0; i < rounds; i++) {
  const target = join(floorDir, `x${i}`);
  mkdirSync(target);
  const t = now();
  execFileSync('sh', [
    '-c',
    `gzip -dc "${floorDir}/DATA.tar.gz" | tar -x -C "${target}"`
  ]);
  floor.push(now() - t);
  rmSync(target, { recursive: true, force: true });
}

// Change the last number of the first step, as the panel's number field would.
const step = model.runs[0];
const last = step.argv.length - 1;
const changed = /^\d+$/.test(step.argv[last])
  ? String(Number(step.argv[last]) + 1)
  : step.argv[last];
const edits = {
  stepEdits: [{ step: 0, args: [{ index: last, value: changed }] }]
};

async function runOnce(rootfs, stateDir) {
  const events = [];
  const t = now();
  const started = Date.now();
  const result = await runOnSandbox({
    plan: planRun(model, edits),
    rootfs,
    stateDir,
    sink: new DirectorySink(mkdtempSync(join(work, 'out-'))),
    onEvent: e => events.push(e)
  });
  const total = now() - t;
  if (result.status !== 'succeeded') {
    throw new Error(`run ${result.status}: ${result.reason}`);
  }
  const running = events.find(
    e => e.type === 'status' && e.status === 'running'
  );
  const stepsMs = events
    .filter(e => e.type === 'step-end')
    .reduce((s, e) => s + e.durationMs, 0);
  const lastEnd = events.filter(e => e.type === 'step-end').at(-1);
  const end = events.find(e => e.type === 'end');
  return {
    total,
    setup: running.time - started,
    steps: stepsMs,
    after: end.time - lastEnd.time
  };
}

// First runs: a new cache each round.
const extract = [];
const first = [];
for (let i = 0; i < rounds; i++) {
  const stateDir = mkdtempSync(join(work, 'state-'));
  const t = now();
  const rootfs = await prepareRootfs(rpz, { stateDir, sha256: model.sha256 });
  extract.push(now() - t);
  const run = await runOnce(rootfs, stateDir);
  first.push(now() - t);
  void run;
  await removeTree(stateDir);
}

// Warm re-runs on one cache.
const stateDir = mkdtempSync(join(work, 'state-'));
const rootfs = await prepareRootfs(rpz, { stateDir, sha256: model.sha256 });
await runOnce(rootfs, stateDir);
const warm = [];
for (let i = 0; i < rounds; i++) {
  warm.push(await runOnce(rootfs, stateDir));
}

// The experiment alone: the same step in bubblewrap on a tree made beforehand.
const plan = planRun(model, edits);
const own = [];
const alone = join(work, 'alone');
execFileSync('cp', ['-a', rootfs.root, alone]);
for (let i = 0; i < rounds; i++) {
  const s = plan.steps[0];
  const env = Object.entries(s.environ).map(([k, v]) => `${k}=${v}`);
  const t = now();
  const r = spawnSync(
    sandbox.program ?? 'bwrap',
    [
      '--unshare-user',
      '--unshare-pid',
      '--unshare-net',
      '--die-with-parent',
      '--bind',
      alone,
      '/',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--ro-bind',
      helperPath(),
      '/.reproserver/rpz-exec',
      '--chdir',
      s.workingdir,
      '--uid',
      String(s.uid),
      '--gid',
      String(s.gid),
      '/.reproserver/rpz-exec',
      'run',
      s.binary ?? '-',
      String(env.length),
      ...env,
      '--',
      ...s.argv
    ],
    { stdio: 'ignore' }
  );
  own.push(now() - t);
  if (r.status !== 0) {
    throw new Error(`the experiment alone exited with ${r.status}`);
  }
}

const ownMs = median(own);
console.log('');
console.log(`extraction floor (gzip -dc | tar -x):  ${fmt(median(floor))}`);
console.log(
  `extraction into the cache:             ${fmt(median(extract))}  (${(median(extract) / median(floor)).toFixed(2)}× the floor; target ≤ 1.5×)`
);
console.log(`first run (extract + run):             ${fmt(median(first))}`);
console.log(`experiment alone (bwrap, no copy):     ${fmt(ownMs)}`);
const w = key => median(warm.map(r => r[key]));
console.log(
  `warm re-run:                           ${fmt(w('total'))}  (overhead ${fmt(w('total') - ownMs)}; target < 300 ms)`
);
console.log(`  setup (copy of the tree, cgroup):    ${fmt(w('setup'))}`);
console.log(`  steps (sandbox start + experiment):  ${fmt(w('steps'))}`);
console.log(`  outputs, changed files, clean-up:    ${fmt(w('after'))}`);

const reprounzip = process.env.REPROUNZIP;
if (reprounzip) {
  const setup = [];
  const run = [];
  for (let i = 0; i < Math.min(rounds, 3); i++) {
    const target = join(work, `ru-${i}`);
    let t = now();
    execFileSync(reprounzip, ['directory', 'setup', rpz, target], {
      stdio: 'ignore'
    });
    setup.push(now() - t);
    t = now();
    execFileSync(
      reprounzip,
      ['directory', 'run', target, '--cmdline', ...plan.steps[0].argv],
      { stdio: 'ignore' }
    );
    run.push(now() - t);
  }
  console.log(
    `reprounzip directory setup:            ${fmt(median(setup))}  (no isolation, links rewritten)`
  );
  console.log(`reprounzip directory run:              ${fmt(median(run))}`);
}
await removeTree(work);
