/**
 * What the sandbox benchmarks share: the built server's modules, the command line
 * `[PACKAGE.rpz] [ROUNDS]`, and the package unpacked once into the cache, so that every round
 * measures a warm run.
 */
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..'
);
const require = createRequire(join(root, 'server', 'package.json'));
const dist = join(root, 'server', 'dist');

/** The server's modules the benchmarks drive (build them first: see each bench's header). */
export const server = {
  ...require(join(dist, 'rpz')),
  ...require(join(dist, 'runs', 'plan')),
  ...require(join(dist, 'sandbox')),
  ...require(join(dist, 'backends', 'sandbox', 'runner')),
  ...require(join(dist, 'backends', 'sandbox', 'detect')),
  ...require(join(dist, 'runs', 'output-sink'))
};

export const median = values =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
export const now = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * `[PACKAGE.rpz] [ROUNDS]` from the command line (default: the shell-pipeline example, 9 rounds),
 * the package read and unpacked into a fresh work folder named after `name`, and its plan.
 */
export async function warmPackage(name, argv = process.argv.slice(2)) {
  const rounds = Number(argv.find(a => /^\d+$/.test(a)) ?? 9);
  const rpz = resolve(
    argv.find(a => !/^\d+$/.test(a)) ??
      join(root, '.state', 'examples', 'shell-pipeline.rpz')
  );
  const work = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const model = await server.readPackage(rpz);
  const rootfs = await server.prepareRootfs(rpz, {
    stateDir: work,
    sha256: model.sha256 ?? undefined
  });
  return { rpz, rounds, work, model, rootfs, plan: server.planRun(model, {}) };
}
