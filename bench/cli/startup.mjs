#!/usr/bin/env node
/**
 * How long the command line takes to start, next to Node.js itself. In interleaved rounds (so that
 * other work on the machine weighs on every case alike), each case is one fresh process:
 *   - `node -e 0`, the floor;
 *   - `reproserver --version`, for the compiled CLI (server/dist/cli/main.js) and, when it is
 *     built, the pip package's bundle (jupyterlab_reproserver/server/bin/reproserver.js);
 *   - `reproserver inspect --no-cache PACKAGE` of a small example package, for both: the first
 *     read of a package (in its own process, under the read deadline: its parsers' modules load,
 *     it hashes and parses);
 *   - `reproserver inspect PACKAGE` again, for both: an unchanged package is answered from what
 *     the first read remembered (the bench's own cache folder, filled by the warm-up round).
 *   - the floor of any first read: `node -e` hashing the package with node:crypto, nothing else;
 *   - the least a whole first read does (`first-read-floor.cjs`: the metadata members found by
 *     their tar headers, the trace opened with node:sqlite, the file hashed; no YAML, no checks):
 *     what `inspect, 1st` could at best come down to;
 *   - the bundle's first read with V8's code cache off (`NODE_DISABLE_COMPILE_CACHE`), as on a
 *     command's very first run; the other cases reuse the code compiled by the warm-up round
 *     (`server/src/cli/code-cache-loader.ts` for the bundle, Node's module compile cache for
 *     dist: `compile-cache.ts`), as every run after a user's first does;
 *   - `reproserver --version` and a remembered `inspect` through the command `pip install` puts on
 *     PATH (a Python console script that becomes the bundle's Node.js process), when .venv has
 *     it (or REPROSERVER_BENCH_COMMAND names one): Python's own start-up comes on top.
 * Prints each case's median and its ratio to `node -e 0` (target: within 1.5×).
 *
 *   npm run build:server && node bench/cli/startup.mjs [ROUNDS]
 *
 * ROUNDS defaults to 15. STARTUP_BENCH_PACKAGE names another package to inspect.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const rounds = Number(process.argv[2] ?? 15);
const example =
  process.env.STARTUP_BENCH_PACKAGE ??
  join(root, 'examples', 'shell-pipeline.rpz');
const entries = {
  dist: join(root, 'server', 'dist', 'cli', 'main.js'),
  bundle: join(
    root,
    'jupyterlab_reproserver',
    'server',
    'bin',
    'reproserver.js'
  )
};

if (!existsSync(entries.dist)) {
  console.error('startup: server/dist is missing; run "npm run build:server".');
  process.exit(1);
}
const state = mkdtempSync(join(tmpdir(), 'reproserver-startup-'));
const env = {
  ...process.env,
  REPROSERVER_STATE_DIR: state,
  REPROSERVER_CACHE_DIR: join(state, 'cache')
};

const cases = [
  { name: 'node -e 0', args: ['-e', '0'] },
  {
    // What any first read must do at least: load Node's hashing and hash the whole file.
    name: 'floor: sha256 only',
    args: [
      '-e',
      `require('node:crypto').createHash('sha256').update(require('node:fs').readFileSync(${JSON.stringify(example)})).digest('hex')`
    ]
  },
  {
    name: 'floor: minimal 1st read',
    args: [join(root, 'bench', 'cli', 'first-read-floor.cjs'), example]
  }
];
for (const [kind, entry] of Object.entries(entries)) {
  if (!existsSync(entry)) {
    console.error(`startup: ${entry} is not built; skipping the ${kind}.`);
    continue;
  }
  cases.push(
    { name: `${kind}: --version`, args: [entry, '--version'] },
    {
      name: `${kind}: inspect, 1st`,
      args: [entry, 'inspect', '--no-cache', example]
    },
    { name: `${kind}: inspect, again`, args: [entry, 'inspect', example] }
  );
}
if (existsSync(entries.bundle)) {
  // The first read again, compiling the bundle afresh as on a command's very first run.
  cases.push({
    name: 'bundle: 1st, no V8 cache',
    args: [entries.bundle, 'inspect', '--no-cache', example],
    env: { NODE_DISABLE_COMPILE_CACHE: '1' }
  });
}
const pipCommand =
  process.env.REPROSERVER_BENCH_COMMAND ??
  join(root, '.venv', 'bin', 'reproserver');
if (existsSync(pipCommand)) {
  cases.push(
    { name: 'pip: --version', command: pipCommand, args: ['--version'] },
    {
      name: 'pip: inspect, again',
      command: pipCommand,
      args: ['inspect', example]
    }
  );
} else {
  console.error(`startup: ${pipCommand} is missing; skipping pip's command.`);
}

/** One fresh process; its wall time in ms (it must succeed). */
function time(args, command = process.execPath, extraEnv = {}) {
  const start = performance.now();
  const child = spawnSync(command, args, {
    env: { ...env, ...extraEnv },
    encoding: 'utf8'
  });
  const ms = performance.now() - start;
  if (child.status !== 0) {
    throw new Error(
      `node ${args.join(' ')} exited with ${child.status}: ${child.stderr}`
    );
  }
  return ms;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

try {
  // One warm-up round: the first start of each pays for the disk cache.
  for (const c of cases) {
    time(c.args, c.command, c.env);
  }
  // The warm-up's plain `inspect` remembered the package, unless it changed a moment ago.
  if (!existsSync(join(state, 'cache', 'inspect'))) {
    console.error(
      'startup: the package was not remembered (changed in the last seconds?); "again" reads it.'
    );
  }
  const samples = new Map(cases.map(c => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      samples.get(c.name).push(time(c.args, c.command, c.env));
    }
  }
  const floor = median(samples.get('node -e 0'));
  console.log(
    `Node.js ${process.version}, ${rounds} interleaved rounds, package ${example}`
  );
  for (const c of cases) {
    const m = median(samples.get(c.name));
    console.log(
      `${c.name.padEnd(26)} median ${m.toFixed(0).padStart(5)} ms  ${(m / floor).toFixed(2)}× node -e 0`
    );
  }
} finally {
  rmSync(state, { recursive: true, force: true });
}
