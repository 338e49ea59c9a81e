#!/usr/bin/env node
/**
 * Sandbox backend benchmark: the first run of a package (extract into the rootfs cache + run) and
 * a warm re-run with a changed argument, against their floors, measured in the same run:
 *
 * - extraction floor: `gzip -dc DATA.tar.gz | tar -x` of the same package's data;
 * - run floor: the experiment alone, i.e. the same step started directly in bubblewrap on a tree
 *   prepared beforehand (no copy, no output collection);
 * - optionally reprounzip (`reprounzip directory setup` then `directory run`), when REPROUNZIP
 *   names its executable (e.g. one installed in a throwaway venv under /tmp).
 *
 *   node bench/sandbox/first-and-warm.mjs [PACKAGE.rpz | --big]... [ROUNDS]
 *
 * Without packages it measures two: python-options.rpz (5 MB) and `--big`, built from
 * python-options.rpz by adding the host's /usr/lib/python3.11 and /usr/share/doc to its data
 * (~90 MB, ~7,500 entries, ~200 MB unpacked), to see how extraction and the per-run copy scale.
 * Needs the server built (`npm run build:server`), and about 2 × ROUNDS × the unpacked size free.
 *
 * Extraction is measured against the floor round by round, the two one after the other in
 * alternating order, each after a `sync`, and each of ours in a fresh process (extract-once.mjs:
 * nothing warmed up, and its peak RSS is the extraction's). The ratio reported is the median of
 * the rounds' ratios, so a noisy moment on a shared machine weighs on both sides of one round
 * rather than on one side of the comparison. Trees are removed only after the last round: ext4
 * makes whoever allocates inodes next pay for a big deletion, and that would be the next round.
 * Prints medians in milliseconds and the ratios the targets are about (extraction ≤ 1.5× the
 * floor; warm overhead < 300 ms beyond the experiment's own time).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastArgumentChanged } from '../common/edits.mjs';

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
const args = process.argv.slice(2);
const rounds = Number(args.find(a => /^\d+$/.test(a)) ?? 5);
const named = args.filter(a => !/^\d+$/.test(a));
const packages = (
  named.length > 0 ? named : [join(examples, 'python-options.rpz'), '--big']
).map(p =>
  p === '--big' ? buildBig(join(examples, 'python-options.rpz')) : resolve(p)
);

const median = values =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const now = () => Number(process.hrtime.bigint()) / 1e6;
const fmt = ms => `${ms.toFixed(0)} ms`;
const ratio = r => `${r.toFixed(2)}×`;
const mb = bytes => `${(bytes / 1e6).toFixed(1)} MB`;
const sync = () => execFileSync('sync');

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

/** Extraction against its floor, round by round; trees are removed after the last round. */
async function measureExtraction(rpz, sha256) {
  const dir = mkdtempSync(join(work, 'extract-'));
  execFileSync('tar', ['-xf', rpz, '-C', dir, 'DATA.tar.gz']);
  const floorOnce = i => {
    const target = join(dir, `floor-${i}`);
    mkdirSync(target);
    sync();
    const t = now();
    execFileSync('sh', [
      '-c',
      `gzip -dc "${dir}/DATA.tar.gz" | tar -x -C "${target}"`
    ]);
    return now() - t;
  };
  const oursOnce = (i, ahead) => {
    const stateDir = join(dir, `state-${i}${ahead ? '-ahead' : ''}`);
    mkdirSync(stateDir);
    sync();
    const out = execFileSync(process.execPath, [
      join(root, 'bench', 'sandbox', 'extract-once.mjs'),
      rpz,
      stateDir,
      sha256,
      ...(ahead ? ['--reader-ahead'] : [])
    ]);
    return JSON.parse(out.toString());
  };
  const rows = [];
  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first, so neither always inherits the other's writeback.
    let floor;
    let ours;
    let cold;
    if (i % 2 === 0) {
      floor = floorOnce(i);
      ours = oursOnce(i, true);
      cold = oursOnce(i, false);
    } else {
      cold = oursOnce(i, false);
      ours = oursOnce(i, true);
      floor = floorOnce(i);
    }
    rows.push({
      floor,
      ours: ours.ms,
      cold: cold.ms,
      rss: ours.peakRssBytes,
      startRss: ours.startRssBytes,
      entries: ours.entries,
      bytes: ours.bytes
    });
  }
  await removeTree(dir);
  const ratios = rows.map(r => r.ours / r.floor);
  return {
    floor: median(rows.map(r => r.floor)),
    ours: median(rows.map(r => r.ours)),
    cold: median(rows.map(r => r.cold)),
    coldRatio: median(rows.map(r => r.cold / r.floor)),
    ratio: median(ratios),
    minRatio: Math.min(...ratios),
    maxRatio: Math.max(...ratios),
    peakRss: Math.max(...rows.map(r => r.rss)),
    startRss: median(rows.map(r => r.startRss)),
    entries: rows[0].entries,
    bytes: rows[0].bytes
  };
}

/** First runs (a new cache each round), warm re-runs, and the experiment alone. */
async function measureRuns(rpz, model, sandbox) {
  const { edits } = lastArgumentChanged(model);

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
      .reduce((sum, e) => sum + e.durationMs, 0);
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
  const first = [];
  for (let i = 0; i < rounds; i++) {
    const stateDir = mkdtempSync(join(work, 'state-'));
    const t = now();
    const rootfs = await prepareRootfs(rpz, {
      stateDir,
      sha256: model.sha256
    });
    await runOnce(rootfs, stateDir);
    first.push(now() - t);
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
  await removeTree(alone);
  await removeTree(stateDir);

  let reprounzip = null;
  if (process.env.REPROUNZIP) {
    const setup = [];
    const run = [];
    for (let i = 0; i < Math.min(rounds, 3); i++) {
      const target = join(work, `ru-${i}`);
      let t = now();
      execFileSync(
        process.env.REPROUNZIP,
        ['directory', 'setup', rpz, target],
        {
          stdio: 'ignore'
        }
      );
      setup.push(now() - t);
      t = now();
      execFileSync(
        process.env.REPROUNZIP,
        ['directory', 'run', target, '--cmdline', ...plan.steps[0].argv],
        { stdio: 'ignore' }
      );
      run.push(now() - t);
      await removeTree(target);
    }
    reprounzip = { setup: median(setup), run: median(run) };
  }
  const w = key => median(warm.map(r => r[key]));
  return {
    first: median(first),
    own: median(own),
    warm: {
      total: w('total'),
      setup: w('setup'),
      steps: w('steps'),
      after: w('after')
    },
    reprounzip
  };
}

const sandbox = await detectSandbox();
console.log(sandbox.detail);
console.log(`${rounds} rounds; medians.`);
const summary = [];
for (const rpz of packages) {
  const model = await readPackage(rpz);
  const x = await measureExtraction(rpz, model.sha256);
  const runs = await measureRuns(rpz, model, sandbox);
  summary.push({ name: basename(rpz), ...x });
  console.log('');
  console.log(
    `package: ${rpz} (${mb(model.size)}, ${x.entries} entries, ${mb(x.bytes)} of files; sha256 ${model.sha256.slice(0, 12)}…)`
  );
  console.log(`extraction floor (gzip -dc | tar -x):  ${fmt(x.floor)}`);
  console.log(
    `extraction into the cache:             ${fmt(x.ours)}  (${ratio(x.ratio)} the floor, rounds ${ratio(x.minRatio)}–${ratio(x.maxRatio)}; target ≤ 1.5×; its reader started ahead, as in the server)`
  );
  console.log(
    `  with the reader's start counted:     ${fmt(x.cold)}  (${ratio(x.coldRatio)} the floor; as the CLI pays it)`
  );
  console.log(
    `  peak RSS of the extracting process:  ${mb(x.peakRss)}  (${mb(x.startRss)} before extracting)`
  );
  console.log(`first run (extract + run):             ${fmt(runs.first)}`);
  console.log(`experiment alone (bwrap, no copy):     ${fmt(runs.own)}`);
  console.log(
    `warm re-run:                           ${fmt(runs.warm.total)}  (overhead ${fmt(runs.warm.total - runs.own)}; target < 300 ms)`
  );
  console.log(`  setup (copy of the tree, cgroup):    ${fmt(runs.warm.setup)}`);
  console.log(`  steps (sandbox start + experiment):  ${fmt(runs.warm.steps)}`);
  console.log(`  outputs, changed files, clean-up:    ${fmt(runs.warm.after)}`);
  if (runs.reprounzip) {
    console.log(
      `reprounzip directory setup:            ${fmt(runs.reprounzip.setup)}  (no isolation, links rewritten)`
    );
    console.log(
      `reprounzip directory run:              ${fmt(runs.reprounzip.run)}`
    );
  }
}
console.log('');
console.log(
  "extraction / floor (median of the rounds' ratios; target ≤ 1.5×):"
);
for (const x of summary) {
  console.log(
    `  ${x.name.padEnd(22)} ${ratio(x.ratio)}  (${fmt(x.ours)} vs ${fmt(x.floor)}; peak RSS ${mb(x.peakRss)})`
  );
}
await removeTree(work);
