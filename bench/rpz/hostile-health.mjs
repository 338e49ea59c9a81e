#!/usr/bin/env node
/**
 * Does one hostile package stall the server for others? Against the real server process:
 *  1. baseline: `GET /api/health` latency (p50/p99), polled back to back for a few seconds with
 *     nothing else to do;
 *  2. the same poll while every package of the hostile corpus (server/test/helpers/hostile-corpus.ts,
 *     plus the two that froze the first version: a pax `size=1.5`, a trace whose `processes` is a
 *     recursive view) is uploaded, one after the other (and, for the cases about the data, its
 *     details asked, which walk the data): p50/p99, their ratio to the baseline, and each
 *     upload's time and answer (target: health p99 < 100 ms; every answer within seconds);
 *  3. what reading in a reader process costs: a small reprozip-made package read in-process, by
 *     a warm reader process, and by a fresh one (its start included).
 *
 *   npm run build:server && node bench/rpz/hostile-health.mjs
 *
 * HOSTILE_BENCH_READ_TIMEOUT sets the server's --read-timeout-seconds (default 2: cases that hang
 * the parsers cost that long). HOSTILE_BENCH_BASELINE_SECONDS sets the baseline's length (5).
 * The corpus is bundled from its TypeScript source with esbuild, into node_modules/.cache.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import {
  call as httpCall,
  startServer as startBenchServer
} from '../common/server.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const serverDir = join(root, 'server');
const TOKEN = 'bench-token';
const READ_TIMEOUT = Number(process.env.HOSTILE_BENCH_READ_TIMEOUT ?? 2);
const BASELINE_SECONDS = Number(
  process.env.HOSTILE_BENCH_BASELINE_SECONDS ?? 5
);
const EXAMPLE = join(root, 'examples', 'shell-pipeline.rpz');

try {
  statSync(join(serverDir, 'dist', 'rpz', 'worker', 'reader-process.js'));
} catch {
  console.error(
    'Build the server first: npm run build:server (server/dist/rpz/worker/reader-process.js is missing).'
  );
  process.exit(2);
}

/** The hostile corpus and the review's two packages, bundled from the test sources. */
async function loadCorpus() {
  const out = join(
    root,
    'node_modules',
    '.cache',
    'reproserver',
    'hostile-corpus-bench.cjs'
  );
  await build({
    stdin: {
      contents:
        "export { HOSTILE_CORPUS } from './test/helpers/hostile-corpus';\n" +
        "export { paxFractionalSize, recursiveViewPackage } from './test/unit/rpz-worker/freezing-packages';\n",
      resolveDir: serverDir,
      loader: 'ts'
    },
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    logLevel: 'error'
  });
  const corpus = createRequire(out)(out);
  return [
    {
      name: 'review-pax-size-1-5',
      build: async () => corpus.paxFractionalSize(),
      details: false
    },
    {
      name: 'review-trace-recursive-view',
      build: corpus.recursiveViewPackage,
      details: false
    },
    ...corpus.HOSTILE_CORPUS.filter(c => c.options === undefined).map(c => ({
      name: c.name,
      build: c.build,
      details: c.via === 'entries'
    }))
  ];
}

const startServer = stateDir =>
  startBenchServer(stateDir, {
    REPROSERVER_TOKEN: TOKEN,
    REPROSERVER_WORKSPACE: stateDir,
    REPROSERVER_READ_TIMEOUT_SECONDS: String(READ_TIMEOUT)
  });
const call = (url, method, path, body) =>
  httpCall(url, TOKEN, method, path, body);

/** Polls /api/health back to back until `stop()`; resolves with the latencies. */
function pollHealth(url) {
  let polling = true;
  const samples = [];
  const done = (async () => {
    while (polling) {
      const reply = await call(url, 'GET', '/api/health');
      if (reply.status !== 200) {
        throw new Error(`/api/health answered ${reply.status}`);
      }
      samples.push({ ms: reply.ms, end: performance.now() });
      await new Promise(r => setTimeout(r, 5));
    }
    return samples;
  })();
  return {
    stop: () => {
      polling = false;
      return done;
    }
  };
}

function percentiles(samples) {
  const sorted = samples.map(s => s.ms).sort((a, b) => a - b);
  const at = p =>
    sorted[
      Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
    ];
  return { n: sorted.length, p50: at(50), p99: at(99), max: sorted.at(-1) };
}

function table(rows) {
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map(r => String(r[i]).length))
  );
  for (const row of rows) {
    console.log(row.map((c, i) => String(c).padEnd(widths[i])).join('  '));
  }
}

/** Small-package read: in-process, warm reader process, fresh reader process (ms, best of n). */
async function readerOverhead() {
  const requireServer = createRequire(join(serverDir, 'package.json'));
  const { readPackage } = requireServer(join(serverDir, 'dist', 'rpz'));
  const { PackageReader } = requireServer(
    join(serverDir, 'dist', 'rpz', 'worker')
  );
  const scratch = mkdtempSync(join(tmpdir(), 'rpz-bench-scratch-'));
  const time = async fn => {
    const started = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  const best = async (fn, runs) => {
    let ms = Infinity;
    for (let i = 0; i < runs; i++) ms = Math.min(ms, await time(fn));
    return ms;
  };
  try {
    await readPackage(EXAMPLE);
    const inProcess = await best(() => readPackage(EXAMPLE), 20);
    let fresh = Infinity;
    for (let i = 0; i < 3; i++) {
      const reader = new PackageReader({ processes: 1, scratchDir: scratch });
      fresh = Math.min(fresh, await time(() => reader.readPackage(EXAMPLE)));
      reader.close();
    }
    const reader = new PackageReader({ processes: 1, scratchDir: scratch });
    await reader.readPackage(EXAMPLE);
    const warm = await best(() => reader.readPackage(EXAMPLE), 20);
    reader.close();
    return { inProcess, warm, fresh };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const cases = await loadCorpus();
const stateDir = mkdtempSync(join(tmpdir(), 'rpz-hostile-bench-'));
const { child, url } = await startServer(stateDir);
try {
  await call(url, 'GET', '/api/health');
  const idle = pollHealth(url);
  await new Promise(r => setTimeout(r, BASELINE_SECONDS * 1000));
  const baseline = percentiles(await idle.stop());

  const busy = pollHealth(url);
  const perCase = [];
  const corpusStarted = Date.now();
  for (const c of cases) {
    const bytes = await c.build();
    const from = performance.now();
    const upload = await call(
      url,
      'PUT',
      `/api/packages/upload?name=${c.name}.rpz`,
      bytes
    );
    let ms = upload.ms;
    let answer =
      upload.status === 200
        ? 'accepted'
        : `${upload.status} ${JSON.parse(upload.text).error?.code ?? '?'}`;
    if (/took longer than/.test(upload.text)) answer += ' (read deadline)';
    if (upload.status === 200 && c.details) {
      const sha256 = JSON.parse(upload.text).sha256;
      const details = await call(url, 'GET', `/api/packages/${sha256}`);
      ms += details.ms;
      answer += `, details ${details.status}${JSON.parse(details.text).fileSizes === null ? ' (no sizes)' : ''}`;
    }
    perCase.push({
      row: [c.name, `${ms.toFixed(0)} ms`, answer],
      from,
      to: performance.now()
    });
  }
  const corpusSeconds = (Date.now() - corpusStarted) / 1000;
  const busySamples = await busy.stop();
  const loaded = percentiles(busySamples);
  // The slowest health answer that overlapped each upload: which case, if any, held the loop.
  for (const c of perCase) {
    const overlapping = busySamples.filter(
      s => s.end >= c.from && s.end - s.ms <= c.to
    );
    c.row.push(
      overlapping.length === 0
        ? '-'
        : `${Math.max(...overlapping.map(s => s.ms)).toFixed(0)} ms`
    );
  }

  console.log(
    `Hostile corpus: ${cases.length} uploads in ${corpusSeconds.toFixed(1)} s (server read timeout ${READ_TIMEOUT} s)\n`
  );
  table([
    ['case', 'time', 'answer', 'slowest /api/health meanwhile'],
    ...perCase.map(c => c.row)
  ]);
  const slowest = Math.max(...perCase.map(c => parseFloat(c.row[1])));
  console.log('');
  const overhead = await readerOverhead();
  const ratio = loaded.p99 / baseline.p99;
  table([
    ['measure', 'value', 'target', 'ok'],
    [
      '/api/health, idle (baseline)',
      `p50 ${baseline.p50.toFixed(1)} ms, p99 ${baseline.p99.toFixed(1)} ms (n=${baseline.n})`,
      '',
      ''
    ],
    [
      '/api/health, during the corpus',
      `p50 ${loaded.p50.toFixed(1)} ms, p99 ${loaded.p99.toFixed(1)} ms, max ${loaded.max.toFixed(0)} ms (n=${loaded.n})`,
      'p99 < 100 ms',
      loaded.p99 < 100 ? 'yes' : 'NO'
    ],
    [
      '  ratio p50 / p99 to baseline',
      `${(loaded.p50 / baseline.p50).toFixed(2)}x / ${ratio.toFixed(2)}x`,
      '',
      ''
    ],
    [
      'slowest answer to an upload',
      `${slowest.toFixed(0)} ms`,
      `< ${READ_TIMEOUT + 3} s`,
      slowest < (READ_TIMEOUT + 3) * 1000 ? 'yes' : 'NO'
    ],
    [
      'small package read, in-process',
      `${overhead.inProcess.toFixed(1)} ms`,
      '(reference)',
      ''
    ],
    [
      '  in a warm reader process',
      `${overhead.warm.toFixed(1)} ms (+${(overhead.warm - overhead.inProcess).toFixed(1)} ms)`,
      '',
      ''
    ],
    [
      '  in a fresh reader process',
      `${overhead.fresh.toFixed(0)} ms (+${(overhead.fresh - overhead.inProcess).toFixed(0)} ms: its start)`,
      '',
      ''
    ]
  ]);
} finally {
  child.kill('SIGTERM');
  await new Promise(r => child.once('exit', r));
  rmSync(stateDir, { recursive: true, force: true });
}
