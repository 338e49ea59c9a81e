#!/usr/bin/env node
/**
 * One first extraction of a package into an empty root-filesystem cache, in a process of its own:
 * nothing warmed up or left over from an earlier round, and a peak RSS that is the extraction's.
 * Used by first-and-warm.mjs once per round; prints one line of JSON.
 *
 *   node bench/sandbox/extract-once.mjs PACKAGE.rpz STATE_DIR SHA256 [--reader-ahead]
 *
 * The walk runs in a reader child process. With --reader-ahead that reader is started before the
 * clock starts, as a running server has it; without, its start (about 130 ms of Node) is counted,
 * as the CLI pays it.
 *
 * `ms` is the time `prepareRootfs` took (Node's start-up is not part of an extraction);
 * `peakRssBytes` the process's peak resident memory, and `startRssBytes` its resident memory
 * before extracting (Node itself with the server's modules loaded).
 */
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'server', 'package.json'));
const { prepareRootfs } = require(join(root, 'server', 'dist', 'sandbox'));
const { PackageReader } = require(
  join(root, 'server', 'dist', 'rpz', 'worker')
);

const [rpz, stateDir, sha256, ahead] = process.argv.slice(2);
const reader = new PackageReader();
if (ahead === '--reader-ahead') {
  await reader.startSpare();
}
const startRssBytes = process.memoryUsage().rss;
const started = process.hrtime.bigint();
const prepared = await prepareRootfs(rpz, { stateDir, sha256, reader });
const ms = Number(process.hrtime.bigint() - started) / 1e6;
console.log(
  JSON.stringify({
    ms,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    startRssBytes,
    entries: prepared.info.entries,
    bytes: prepared.info.bytes
  })
);
reader.close();
