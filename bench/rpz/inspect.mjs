#!/usr/bin/env node
/**
 * Benchmark of the package reader on a generated plain v2 package (incompressible data).
 *
 *   cd server && npx tsc -p tsconfig.build.json && cd .. && node bench/rpz/inspect.mjs
 *
 * RPZ_BENCH_MIB sets the data size (default 1024 MiB; e.g. RPZ_BENCH_MIB=128 for a quick run).
 * RPZ_BENCH_RUNS sets how many times each timing is repeated (best kept; default 2).
 * Everything is written to a temporary folder, removed at the end.
 *
 * Measures, each in a fresh Node process so peak RSS is its own:
 * - `readPackage(path, { sha256: false })` time and peak RSS, against a trivial Node script's RSS
 *   (targets: < 100 ms, < 50 MiB above the trivial script);
 * - full `readPackage` with the sha256 of the file (the CLI's default), for reference;
 * - reading every entry and body of `readEntries`, against `gzip -dc DATA.tar.gz | tar -t`
 *   (target: throughput ≥ 0.8× that floor).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { tar, wrapInPackage, writeEntry } from '../common/synthetic-rpz.mjs';
import { best } from '../common/timing.mjs';
import { createGzip } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const serverDir = resolve(here, '../../server');
const rpzModule = join(serverDir, 'dist/rpz/index.js');

const MIB = 1024 * 1024;
const sizeMib = Number(process.env.RPZ_BENCH_MIB ?? 1024);
const runs = Math.max(1, Number(process.env.RPZ_BENCH_RUNS ?? 2));

try {
  statSync(rpzModule);
} catch {
  console.error(
    `Build the server first: cd server && npx tsc -p tsconfig.build.json (${rpzModule} is missing).`
  );
  process.exit(2);
}

async function makeDataTarGz(path) {
  // One random 8 MiB block, repeated: deflate's 32 KiB window cannot see the repetition, so the
  // output stays as large as the input (really ~1 GiB), and generation stays fast.
  const block = randomBytes(8 * MIB);
  const pack = tar.pack();
  const done = pipeline(
    pack,
    createGzip({ level: 1 }),
    createWriteStream(path)
  );
  const meta = {
    mode: 0o644,
    uid: 1000,
    gid: 1000,
    mtime: new Date(1700000000000)
  };
  await writeEntry(
    pack,
    { ...meta, name: 'DATA', type: 'directory', mode: 0o755 },
    []
  );
  await writeEntry(
    pack,
    { ...meta, name: 'DATA/bench', type: 'directory', mode: 0o755 },
    []
  );
  for (let i = 0; i < 2000; i++) {
    const text = Buffer.from(`small file ${i}\n`.repeat(40));
    await writeEntry(
      pack,
      { ...meta, name: `DATA/bench/small/${i}.txt`, size: text.length },
      [text]
    );
  }
  let left = sizeMib * MIB;
  for (let i = 0; left > 0; i++) {
    const size = Math.min(left, 64 * MIB);
    const chunks = [];
    for (let done = 0; done < size; done += block.length) {
      chunks.push(block.subarray(0, Math.min(block.length, size - done)));
    }
    await writeEntry(
      pack,
      { ...meta, name: `DATA/bench/big-${i}.bin`, size },
      chunks
    );
    left -= size;
  }
  pack.finalize();
  await done;
}

/** Runs a Node snippet in a fresh process; it prints one JSON line. Adds the process's peak RSS. */
function node(code, env = {}) {
  const wrapped = `${code}\n;process.on('exit',()=>{});`;
  const out = execFileSync(process.execPath, ['-e', wrapped], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 16 * MIB
  });
  return JSON.parse(out.trim().split('\n').pop());
}

const trivial = () =>
  node(
    `console.log(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }))`
  );

const inspect = (path, sha256) =>
  node(
    `const { readPackage } = require(${JSON.stringify(rpzModule)});
     (async () => {
       const t = process.hrtime.bigint();
       const model = await readPackage(${JSON.stringify(path)}, { sha256: ${sha256} });
       const ms = Number(process.hrtime.bigint() - t) / 1e6;
       if (model.format !== 2) throw new Error('bad model');
       console.log(JSON.stringify({ ms, maxRssKiB: process.resourceUsage().maxRSS }));
     })().catch(e => { console.error(e); process.exit(1); });`
  );

const stream = path =>
  node(
    `const { readEntries } = require(${JSON.stringify(rpzModule)});
     (async () => {
       const t = process.hrtime.bigint();
       let entries = 0, bytes = 0;
       for await (const entry of readEntries(${JSON.stringify(path)})) {
         entries++;
         if (entry.type === 'file') for await (const chunk of entry.body) bytes += chunk.length;
       }
       const ms = Number(process.hrtime.bigint() - t) / 1e6;
       console.log(JSON.stringify({ ms, entries, bytes, maxRssKiB: process.resourceUsage().maxRSS }));
     })().catch(e => { console.error(e); process.exit(1); });`
  );

function floor(dataPath) {
  const t = process.hrtime.bigint();
  const result = spawnSync(
    'sh',
    ['-c', `gzip -dc "${dataPath}" | tar -t > /dev/null`],
    { stdio: 'inherit' }
  );
  if (result.status !== 0) {
    throw new Error('gzip -dc | tar -t failed');
  }
  return { ms: Number(process.hrtime.bigint() - t) / 1e6 };
}

const dir = mkdtempSync(join(tmpdir(), 'rpz-bench-'));
try {
  const dataPath = join(dir, 'DATA.tar.gz');
  const rpzPath = join(dir, 'bench.rpz');
  let t = Date.now();
  await makeDataTarGz(dataPath);
  await wrapInPackage(dataPath, rpzPath);
  const size = statSync(rpzPath).size;
  console.log(
    `Generated ${(size / MIB).toFixed(0)} MiB package (${sizeMib} MiB of data) in ${((Date.now() - t) / 1000).toFixed(1)} s`
  );

  const base = trivial();
  const meta = best(() => inspect(rpzPath, false), runs);
  const full = best(() => inspect(rpzPath, true), runs);
  const ours = best(() => stream(rpzPath), runs);
  const ref = best(() => floor(dataPath), runs);
  const uncompressedMib = ours.bytes / MIB;
  const rssAbove = (meta.maxRssKiB - base.maxRssKiB) / 1024;
  const streamRssAbove = (ours.maxRssKiB - base.maxRssKiB) / 1024;
  const ratio = ref.ms / ours.ms;
  const rows = [
    ['measure', 'value', 'target', 'ok'],
    [
      'inspect metadata (no hash)',
      `${meta.ms.toFixed(1)} ms`,
      '< 100 ms',
      meta.ms < 100
    ],
    [
      '  peak RSS above trivial node',
      `${rssAbove.toFixed(1)} MiB`,
      '< 50 MiB',
      rssAbove < 50
    ],
    [
      'inspect with sha256 of file',
      `${full.ms.toFixed(0)} ms`,
      '(reference)',
      ''
    ],
    [
      'entry stream, all bodies',
      `${ours.ms.toFixed(0)} ms, ${(uncompressedMib / (ours.ms / 1000)).toFixed(0)} MiB/s`,
      '',
      ''
    ],
    [
      '  entries / file bytes',
      `${ours.entries} / ${(ours.bytes / MIB).toFixed(0)} MiB`,
      '',
      ''
    ],
    [
      '  peak RSS above trivial node',
      `${streamRssAbove.toFixed(1)} MiB`,
      '(flat)',
      ''
    ],
    ['gzip -dc | tar -t (floor)', `${ref.ms.toFixed(0)} ms`, '', ''],
    [
      '  throughput ratio ours/floor',
      `${ratio.toFixed(2)}x`,
      '>= 0.8x',
      ratio >= 0.8
    ]
  ];
  const widths = [0, 1, 2, 3].map(i =>
    Math.max(...rows.map(r => String(r[i]).length))
  );
  for (const row of rows) {
    console.log(
      row
        .map((cell, i) =>
          String(cell === true ? 'yes' : cell === false ? 'NO' : cell).padEnd(
            widths[i]
          )
        )
        .join('  ')
    );
  }
  console.log(
    `(trivial node peak RSS ${(base.maxRssKiB / 1024).toFixed(1)} MiB; best of ${runs} runs each)`
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
