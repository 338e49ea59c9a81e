/**
 * The least work any first read of a package does in Node.js, as one bare script: find the
 * metadata members of a plain outer tar by its headers, copy the trace out and open it with
 * node:sqlite (a query per table), and hash the whole file with node:crypto. No YAML is parsed,
 * nothing is checked or bounded, no module of ours is loaded: a floor, not a reader. `startup.mjs`
 * runs it as a case, so that `inspect`'s first read is seen next to what it cannot go below.
 *
 *   node bench/cli/first-read-floor.cjs PACKAGE
 */
'use strict';
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { DatabaseSync } = require('node:sqlite');

const path = process.argv[2];
const fd = fs.openSync(path, 'r');
const header = Buffer.alloc(512);
const members = new Map();
for (let offset = 0; ;) {
  if (fs.readSync(fd, header, 0, 512, offset) < 512 || header[0] === 0) {
    break;
  }
  const name = header.toString('latin1', 0, 100).replace(/\0.*$/s, '');
  const size = parseInt(header.toString('latin1', 124, 136), 8);
  members.set(name, { offset: offset + 512, size });
  offset += 512 + Math.ceil(size / 512) * 512;
}
const read = name => {
  const member = members.get(name);
  if (!member) {
    throw new Error(`${path}: no ${name} (a plain outer tar is needed)`);
  }
  const bytes = Buffer.alloc(member.size);
  fs.readSync(fd, bytes, 0, member.size, member.offset);
  return bytes;
};
const config = read('METADATA/config.yml').toString('utf8');
const dir = fs.mkdtempSync(join(tmpdir(), 'first-read-floor-'));
let rows = 0;
try {
  fs.writeFileSync(join(dir, 'trace.sqlite3'), read('METADATA/trace.sqlite3'));
  const db = new DatabaseSync(join(dir, 'trace.sqlite3'), { readOnly: true });
  for (const table of ['processes', 'opened_files', 'executed_files']) {
    rows += db.prepare(`SELECT * FROM ${table}`).all().length;
  }
  db.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const hash = createHash('sha256');
const chunk = Buffer.allocUnsafe(1024 * 1024);
for (
  let position = 0, n;
  (n = fs.readSync(fd, chunk, 0, chunk.length, position)) > 0;
) {
  hash.update(chunk.subarray(0, n));
  position += n;
}
fs.closeSync(fd);
console.log(
  `${hash.digest('hex')} ${config.length} bytes of config, ${rows} trace rows`
);
