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
import { join } from 'node:path';
import { now, median, server, warmPackage } from '../common/sandbox-warm.mjs';

const { runOnSandbox, DirectorySink, removeTree } = server;
const { rpz, rounds, work, model, rootfs } = await warmPackage('ids');
const stateDir = work;

async function runOnce(mechanism, ids, emulate) {
  process.env.REPROSERVER_SANDBOX_EMULATE_IDS = emulate ? 'on' : 'off';
  const events = [];
  const t = now();
  const result = await runOnSandbox({
    plan: server.planRun(model, {}),
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
