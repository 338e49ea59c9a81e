#!/usr/bin/env node
/**
 * How long reading a package's config.yml takes, by its size: the reader of the form reprozip
 * writes (server/src/rpz/reprozip-yaml.ts) against the `yaml` library path it spares
 * (yaml-general.ts, which a config of any other form takes), on the same texts in the same run.
 * The texts are the shell-pipeline example's config with N more files listed under its package,
 * as reprozip lists them (`- "/usr/lib/…" # 12.0 KB`): a package of many libraries has tens of
 * thousands. Both must give the same value; each timing is the median of ROUNDS, in this process
 * after a warm-up (so it is the parsers' speed, not their loading: bench/cli/startup.mjs has that).
 *
 *   cd server && npx tsc -p tsconfig.build.json && cd .. && node bench/rpz/config-yaml.mjs [ROUNDS]
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const dist = join(root, 'server', 'dist', 'rpz');
const { readReproZipYaml } = require(join(dist, 'reprozip-yaml.js'));
const { parseAnyYaml } = require(join(dist, 'yaml-general.js'));
const { READ_LIMITS } = require(join(dist, 'limits.js'));

const rounds = Number(process.argv[2] ?? 7);
const example = join(root, 'examples', 'shell-pipeline.rpz');
const base = execFileSync('tar', ['-xOf', example, 'METADATA/config.yml'], {
  encoding: 'utf8'
});
const lastFile = '      - "/usr/bin/uniq"';
if (!base.includes(lastFile)) {
  console.error(
    `config-yaml: ${example}'s config no longer lists ${lastFile}.`
  );
  process.exit(1);
}

function configWith(files) {
  const listed = Array.from(
    { length: files },
    (_, i) => `\n      - "/usr/lib/x86_64-linux-gnu/lib${i}.so.1" # 12.0 KB`
  ).join('');
  return base.replace(lastFile, lastFile + listed);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function timed(read, text) {
  const times = [];
  let value;
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    value = read(text);
    times.push(performance.now() - start);
  }
  return { ms: median(times), value };
}

const fast = text => readReproZipYaml(text, READ_LIMITS);
const general = text => parseAnyYaml(text, [], READ_LIMITS);
// Warm-up: both parsers compiled and optimised before anything is timed.
for (let i = 0; i < 5; i++) {
  fast(configWith(1000));
  general(configWith(1000));
}

console.log(`config.yml read, median of ${rounds}, Node.js ${process.version}`);
console.log('files     size       reprozip form   yaml library   ratio');
for (const files of [0, 1_000, 10_000, 30_000]) {
  const text = configWith(files);
  const ours = timed(fast, text);
  const library = timed(general, text);
  if (ours.value === null) {
    console.error(
      `config-yaml: the reader declined the config with ${files} files.`
    );
    process.exit(1);
  }
  if (!isDeepStrictEqual(ours.value, library.value)) {
    console.error(`config-yaml: the two readings of ${files} files differ.`);
    process.exit(1);
  }
  console.log(
    `${String(files).padEnd(9)} ${`${(text.length / 1024).toFixed(0)} KiB`.padEnd(10)} ` +
      `${ours.ms.toFixed(2).padStart(9)} ms   ${library.ms.toFixed(2).padStart(9)} ms   ` +
      `${(library.ms / ours.ms).toFixed(1)}×`
  );
}
