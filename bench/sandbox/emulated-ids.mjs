#!/usr/bin/env node
/**
 * What emulated identity changes cost (`server/src/backends/sandbox/emulated-ids.ts`): warm runs
 * of a package on proot and on bubblewrap with one id, each with the supervisor of emulated ids
 * and without it (REPROSERVER_SANDBOX_EMULATE_IDS=off: proot's own `-i`, or bubblewrap's one id),
 * alternating round by round so that a noisy moment weighs on both. Prints medians in ms of the
 * steps' time (what the emulation changes) and of the whole run.
 *
 *   node bench/sandbox/emulated-ids.mjs [PACKAGE.rpz] [ROUNDS]
 *
 * Default package: .state/examples/shell-pipeline.rpz; default rounds: 9. Needs the server built.
 */
import { mkdtempSync } from 'node:fs';
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
const { DirectorySink } = require(join(dist, 'runs', 'output-sink'));

const args = process.argv.slice(2);
const rounds = Number(args.find(a => /^\d+$/.test(a)) ?? 9);
const rpz = resolve(
  args.find(a => !/^\d+$/.test(a)) ??
    join(root, '.state', 'examples', 'shell-pipeline.rpz')
);
const work = mkdtempSync(join(tmpdir(), 'bench-ids-'));
const median = values =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const now = () => Number(process.hrtime.bigint()) / 1e6;

const model = await readPackage(rpz);
const stateDir = mkdtempSync(join(work, 'state-'));
const rootfs = await prepareRootfs(rpz, { stateDir, sha256: model.sha256 });

async function runOnce(mechanism, ids, emulate) {
  process.env.REPROSERVER_SANDBOX_EMULATE_IDS = emulate ? 'on' : 'off';
  const events = [];
  const t = now();
  const result = await runOnSandbox({
    plan: planRun(model, {}),
    rootfs,
    stateDir,
    mechanism,
    ids,
    sink: new DirectorySink(mkdtempSync(join(work, 'out-'))),
    onEvent: e => events.push(e)
  });
  const total = now() - t;
  if (result.status !== 'succeeded') {
    throw new Error(`${mechanism} run ${result.status}: ${result.reason}`);
  }
  const steps = events
    .filter(e => e.type === 'step-end')
    .reduce((sum, e) => sum + e.durationMs, 0);
  return { total, steps };
}

const configs = [
  { name: 'proot', mechanism: 'proot', ids: 'auto' },
  { name: 'bwrap, one id', mechanism: 'bwrap', ids: 'one' }
];
console.log(`${rpz}: ${rounds} warm rounds each, alternating; medians in ms.`);
for (const config of configs) {
  const rows = { on: [], off: [] };
  await runOnce(config.mechanism, config.ids, true); // warms caches
  await runOnce(config.mechanism, config.ids, false);
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? [true, false] : [false, true];
    for (const emulate of order) {
      rows[emulate ? 'on' : 'off'].push(
        await runOnce(config.mechanism, config.ids, emulate)
      );
    }
  }
  const m = key => side => median(rows[side].map(r => r[key])).toFixed(0);
  console.log(
    `${config.name}: steps ${m('steps')('off')} without emulation, ${m('steps')('on')} with (+${(median(rows.on.map(r => r.steps)) - median(rows.off.map(r => r.steps))).toFixed(0)}); whole run ${m('total')('off')} → ${m('total')('on')}`
  );
}
await removeTree(work);
