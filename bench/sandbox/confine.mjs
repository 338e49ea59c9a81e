#!/usr/bin/env node
/**
 * Cost of confining sandbox steps (Landlock + seccomp applied by the helper, `confine.ts`): a warm
 * run of a small package through the real sandbox runner, confined and not
 * (`REPROSERVER_CONFINE=off`), against the floor of each mechanism: the same steps started
 * directly in bubblewrap or proot on a copy of the package's tree made beforehand (no helper, no
 * confinement, no per-run copy, no output collection). Everything is measured in the same
 * process, interleaved round by round, so that a noisy moment weighs on every variant.
 *
 *   node bench/sandbox/confine.mjs [PACKAGE.rpz] [ROUNDS]
 *
 * Default: .state/examples/shell-pipeline.rpz, 9 rounds. Needs the server built
 * (`cd server && npx tsc -p tsconfig.build.json && sh helpers/build.sh`). Prints the median of
 * each variant in milliseconds, and the ratios to the floors.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { median, now, server, warmPackage } from '../common/sandbox-warm.mjs';

const { runOnSandbox, detectSandbox, DirectorySink, removeTree } = server;
const { rpz, rounds, work, model, rootfs, plan } = await warmPackage('confine');
// The floors' tree: one copy, made once (the runner makes one per run, or an overlay).
const floorRoot = join(work, 'floor-root');
execFileSync('cp', ['-a', rootfs.root, floorRoot]);

/** Detection per mechanism and confinement, done before the rounds (the server does it once). */
async function detect(mechanism, confine) {
  process.env.REPROSERVER_CONFINE = confine;
  const status = await detectSandbox({ mechanism });
  if (!status.available) {
    throw new Error(status.detail);
  }
  return status;
}

async function ours(mechanism, confine) {
  process.env.REPROSERVER_CONFINE = confine;
  const out = mkdtempSync(join(work, 'out-'));
  const started = now();
  const result = await runOnSandbox({
    plan,
    rootfs,
    stateDir: work,
    mechanism,
    sink: new DirectorySink(out),
    onEvent: () => undefined
  });
  const ms = now() - started;
  if (result.status !== 'succeeded') {
    throw new Error(`${mechanism} ${confine}: ${JSON.stringify(result)}`);
  }
  rmSync(out, { recursive: true, force: true });
  return ms;
}

/** The steps run directly in the mechanism, as a shell would start them, one after another. */
function floor(mechanism, program) {
  const started = now();
  for (const step of plan.steps) {
    const env = Object.entries(step.environ).flatMap(([k, v]) => [
      '--setenv',
      k,
      v
    ]);
    const argv =
      mechanism === 'bwrap'
        ? [
            '--unshare-user',
            '--unshare-pid',
            '--unshare-net',
            '--bind',
            floorRoot,
            '/',
            '--proc',
            '/proc',
            '--dev',
            '/dev',
            '--chdir',
            step.workingdir,
            '--clearenv',
            ...env,
            '--',
            ...step.argv
          ]
        : [
            '-r',
            floorRoot,
            '-w',
            step.workingdir,
            '-b',
            '/proc',
            '-b',
            '/dev/null',
            ...step.argv
          ];
    // proot passes its own environment on: the step's, and where proot keeps its files.
    const done = spawnSync(program, argv, {
      stdio: 'ignore',
      env: mechanism === 'bwrap' ? {} : { ...step.environ, PROOT_TMP_DIR: work }
    });
    if (done.status !== 0) {
      throw new Error(`${mechanism} floor exited ${done.status}`);
    }
  }
  return now() - started;
}

const variants = [];
for (const mechanism of ['bwrap', 'proot']) {
  const confined = await detect(mechanism, 'auto');
  await detect(mechanism, 'off');
  if (!confined.confinement) {
    console.log(
      `${mechanism}: steps cannot be confined here (${confined.confinementWhy})`
    );
  }
  variants.push(
    {
      name: `${mechanism} floor`,
      run: async () => floor(mechanism, confined.program)
    },
    {
      name: `${mechanism} runner, unconfined`,
      run: () => ours(mechanism, 'off')
    },
    {
      name: `${mechanism} runner, confined`,
      run: () => ours(mechanism, 'auto')
    }
  );
}

const times = new Map(variants.map(v => [v.name, []]));
for (const variant of variants) {
  await variant.run(); // warm: caches, page cache, the first copy
}
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  for (const variant of order) {
    times.get(variant.name).push(await variant.run());
  }
}

console.log(
  `${model.runs?.length ?? plan.steps.length} step(s) of ${rpz}, ${rounds} rounds, medians:`
);
for (const [name, values] of times) {
  console.log(`  ${name.padEnd(30)} ${median(values).toFixed(1)} ms`);
}
for (const mechanism of ['bwrap', 'proot']) {
  const m = name => median(times.get(`${mechanism} ${name}`));
  console.log(
    `  ${mechanism}: confined / floor ${(m('runner, confined') / m('floor')).toFixed(2)}×, ` +
      `confined / unconfined ${(m('runner, confined') / m('runner, unconfined')).toFixed(2)}× ` +
      `(+${(m('runner, confined') - m('runner, unconfined')).toFixed(1)} ms)`
  );
}
await removeTree(work);
