#!/usr/bin/env node
/**
 * Warm re-run benchmark (no rebuild): a run with a changed argument, against the floor
 * `docker run --rm --network none IMAGE PROGRAM…` of the same step, measured in the same run.
 *
 *   node bench/run/warm-rerun.mjs [PACKAGE.rpz] [ROUNDS]
 *
 * Needs the server built (`npm run build:server`), DOCKER_SOCKET (and REGISTRY) in the
 * environment (`set -a; . .state/services.env; set +a`), and the docker CLI for the floor.
 * Reports medians: the CLI as a user calls it (Node start-up, reading and hashing the package,
 * plan, run, output copy, run.json), the same run inside a long-lived server process (what the
 * panel gets), and the floor.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lastArgumentChanged } from '../common/edits.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'server', 'package.json'));
const dist = join(root, 'server', 'dist');
const { buildImage } = require(join(dist, 'build'));
const { readPackage } = require(join(dist, 'rpz'));
const { planRun } = require(join(dist, 'runs', 'plan'));
const { runOnDocker } = require(join(dist, 'backends', 'docker', 'runner'));
const { helperPath } = require(join(dist, 'backends', 'docker', 'helper-path'));
const { DirectorySink } = require(join(dist, 'runs', 'output-sink'));
const Docker = require('dockerode');

const rpz = resolve(
  process.argv[2] ?? join(root, '.state', 'examples', 'shell-pipeline.rpz')
);
const rounds = Number(process.argv[3] ?? 7);
const socket = process.env.DOCKER_SOCKET;
if (!socket) {
  console.error('Set DOCKER_SOCKET (set -a; . .state/services.env; set +a).');
  process.exit(2);
}

const median = values =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const time = fn => {
  const started = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
};
const timeAsync = async fn => {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
};

const model = await readPackage(rpz);
const { image } = await buildImage(rpz, {
  dockerSocket: socket,
  registry: process.env.REGISTRY
});
const step = model.runs[0];
const { index, value, edits, argv } = lastArgumentChanged(model);

const dockerEnv = {
  ...process.env,
  DOCKER_HOST: `unix://${socket}`,
  DOCKER_API_VERSION: '1.41'
};
const floorArgs = [
  'run',
  '--rm',
  '--network',
  'none',
  '-w',
  step.workingdir,
  '-u',
  `${step.uid}:${step.gid}`,
  ...Object.entries(step.environ).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
  image,
  step.binary,
  ...argv.slice(1)
];
const floor = () => {
  const result = spawnSync('docker', floorArgs, {
    env: dockerEnv,
    stdio: ['ignore', 'ignore', 'pipe']
  });
  if (result.status !== 0)
    throw new Error(`docker run failed: ${result.stderr}`);
};
const cli = () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-run-'));
  execFileSync(
    process.execPath,
    [
      join(dist, 'cli', 'main.js'),
      'run',
      rpz,
      '--out',
      join(out, 'o'),
      '--arg',
      `0:${index}=${value}`
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] }
  );
  rmSync(out, { recursive: true, force: true });
};
const docker = new Docker({ socketPath: socket });
const inProcess = async () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-run-'));
  const result = await runOnDocker({
    docker,
    image,
    plan: planRun(model, edits),
    helperPath: helperPath(),
    sink: new DirectorySink(out),
    onEvent: () => {}
  });
  rmSync(out, { recursive: true, force: true });
  if (result.status !== 'succeeded')
    throw new Error(`run ${result.status}: ${result.reason}`);
};

// Warm everything once, then interleave the three so machine noise hits them alike.
floor();
cli();
await inProcess();
const samples = { floor: [], cli: [], server: [] };
for (let i = 0; i < rounds; i++) {
  samples.floor.push(time(floor));
  samples.cli.push(time(cli));
  samples.server.push(await timeAsync(inProcess));
}
const f = median(samples.floor);
console.log(
  `warm re-run of ${rpz.split('/').pop()} (argv: ${argv.join(' ')}), median of ${rounds}`
);
console.log(
  `  floor  docker run --rm --network none   ${f.toFixed(0).padStart(6)} ms   1.00×`
);
for (const [name, label] of [
  ['server', 'run in the server process       '],
  ['cli', 'reproserver run (CLI, cold Node)']
]) {
  const m = median(samples[name]);
  console.log(
    `  ${label}   ${m.toFixed(0).padStart(6)} ms   ${(m / f).toFixed(2)}×`
  );
}
