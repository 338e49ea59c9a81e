/**
 * The fuzzer's mutations of a seed package. Each aims at one layer — tar header fields, names,
 * type flags, link targets, pax and GNU records, config.yml, the trace database, version, gzip
 * framing — or at raw bytes, and says what it did (printed with a failing case).
 */
import { DatabaseSync } from 'node:sqlite';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  fixChecksum,
  headerName,
  joinTar,
  paxMember,
  paxRecord,
  setSize,
  withBody,
  type RawMember,
  type RawTar
} from './raw-tar';
import type { Rng } from './rng';
import { assemble, fastGzip, isMember, type Seed } from './seeds';

/** A case being built: copies of the seed's parts, and byte edits to make after assembly. */
export interface Mutant {
  seed: Seed;
  outer: RawTar;
  inner: RawTar | null;
  dataTarGz?: Buffer;
  after: ((bytes: Buffer) => Buffer)[];
  /** What the byte edits did (known only once they ran). */
  notes: string[];
  /** True once the DATA entries (not only metadata) were touched. */
  touchesData: boolean;
}

export function mutantOf(seed: Seed): Mutant {
  return {
    seed,
    outer: { members: [...seed.outer.members], trailer: seed.outer.trailer },
    inner: seed.inner,
    after: [],
    notes: [],
    touchesData: false
  };
}

export function bytesOf(mutant: Mutant): Buffer {
  let bytes = assemble(
    mutant.seed,
    mutant.outer,
    mutant.inner,
    mutant.dataTarGz
  );
  for (const edit of mutant.after) {
    bytes = edit(bytes);
  }
  return bytes;
}

type Mutation = (rng: Rng, m: Mutant) => string;

/** The outer tar or the DATA tar, copied so it can be changed. */
function someTar(rng: Rng, m: Mutant): { tar: RawTar; which: string } {
  if (m.inner !== null && rng.chance(0.6)) {
    m.inner = { members: [...m.inner.members], trailer: m.inner.trailer };
    m.touchesData = true;
    return { tar: m.inner, which: 'DATA tar' };
  }
  return { tar: m.outer, which: 'outer tar' };
}

function someMember(
  rng: Rng,
  tar: RawTar
): { member: RawMember; index: number } {
  const index = rng.int(tar.members.length);
  const original = tar.members[index];
  const member = { header: Buffer.from(original.header), body: original.body };
  tar.members[index] = member;
  return { member, index };
}

const FIELDS: [string, number, number][] = [
  ['mode', 100, 8],
  ['uid', 108, 8],
  ['gid', 116, 8],
  ['size', 124, 12],
  ['mtime', 136, 12],
  ['chksum', 148, 8],
  ['devmajor', 329, 8],
  ['devminor', 337, 8]
];

const NUMBERS = [
  '1.5',
  '-1',
  '-0',
  '0x10',
  '1e3',
  '        ',
  '',
  '77777777777',
  '99999999999',
  '8',
  ' 12 34',
  '0000000\u0000',
  '\u00ff\u00ff',
  'NaN',
  'Infinity'
];

const mutateNumericField: Mutation = (rng, m) => {
  const { tar, which } = someTar(rng, m);
  const { member, index } = someMember(rng, tar);
  const [field, at, width] = rng.pick(FIELDS);
  let value: string;
  if (rng.chance(0.2)) {
    // GNU base-256: a high bit, then big-endian bytes (often huge).
    member.header[at] = 0x80 | (rng.int(2) * 0x40);
    for (let i = at + 1; i < at + width; i++) {
      member.header[i] = rng.int(256);
    }
    value = 'base-256 bytes';
  } else {
    value = rng.pick(NUMBERS);
    member.header.fill(0, at, at + width);
    member.header.write(value.slice(0, width), at, 'latin1');
  }
  const fixed = field !== 'chksum' && rng.chance(0.85);
  if (fixed) {
    fixChecksum(member.header);
  }
  return `${which} member ${index} (${headerName(member.header)}): ${field} = ${JSON.stringify(value)}${fixed ? '' : ', checksum left wrong'}`;
};

const NAMES = [
  '../evil',
  '/etc/passwd',
  'DATA/../../evil',
  'DATA/./a/../../../x',
  'DATA',
  'DATA/',
  '',
  'METADATA/config.yml',
  'METADATA/version',
  'METADATA/trace.sqlite3',
  'METADATA/trace.sqlite3.gz',
  'DATA.tar.gz',
  'EXTENSIONS/x/../../y',
  'DATA/\u00e9\u0000hidden',
  'a'.repeat(100)
];

const mutateName: Mutation = (rng, m) => {
  const { tar, which } = someTar(rng, m);
  const { member, index } = someMember(rng, tar);
  let name: Buffer;
  const choice = rng.int(4);
  if (choice === 0) {
    // Another member's name: a duplicate.
    name = Buffer.from(headerName(rng.pick(tar.members).header));
  } else if (choice === 1) {
    name = Buffer.from([0x44, 0x41, 0x54, 0x41, 0x2f, 0xff, 0xfe, 0xc3]); // DATA/ + not UTF-8
  } else {
    name = Buffer.from(rng.pick(NAMES));
  }
  const before = headerName(member.header);
  member.header.fill(0, 0, 100);
  name.copy(member.header, 0, 0, 100);
  if (rng.chance(0.3)) {
    member.header.fill(0, 345, 500); // ustar prefix
    Buffer.from('DATA/../..').copy(member.header, 345);
  }
  fixChecksum(member.header);
  return `${which} member ${index}: name ${JSON.stringify(before)} → ${JSON.stringify(name.toString('latin1'))}`;
};

const TYPEFLAGS = [
  '0',
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '7',
  'x',
  'g',
  'L',
  'K',
  'S',
  'V',
  'M',
  'D',
  '\0',
  'Z'
];

const mutateTypeflag: Mutation = (rng, m) => {
  const { tar, which } = someTar(rng, m);
  const { member, index } = someMember(rng, tar);
  const flag = rng.pick(TYPEFLAGS);
  member.header.write(flag, 156, 'latin1');
  fixChecksum(member.header);
  return `${which} member ${index} (${headerName(member.header)}): typeflag ${JSON.stringify(flag)}`;
};

const mutateLink: Mutation = (rng, m) => {
  const { tar, which } = someTar(rng, m);
  const { member, index } = someMember(rng, tar);
  const targets = [
    '/etc/shadow',
    '../../x',
    'DATA/../../x',
    '',
    headerName(rng.pick(tar.members).header),
    headerName(member.header),
    '.',
    '/'
  ];
  const target = rng.pick(targets);
  const flag = rng.pick(['1', '2']);
  member.header.write(flag, 156, 'latin1');
  member.header.fill(0, 157, 257);
  member.header.write(target.slice(0, 100), 157, 'utf8');
  if (flag === '1' || rng.chance(0.5)) {
    setSize(member.header, 0);
    tar.members[index] = { header: member.header, body: Buffer.alloc(0) };
  } else {
    fixChecksum(member.header);
  }
  return `${which} member ${index}: ${flag === '1' ? 'hard link' : 'symlink'} to ${JSON.stringify(target)}`;
};

const PAX_RECORDS: [string, string][] = [
  ['size', '1.5'],
  ['size', '-1'],
  ['size', '1e3'],
  ['size', '99999999999999999999'],
  ['size', ''],
  ['size', '0x10'],
  ['size', '100000000'],
  ['path', '../../evil'],
  ['path', '/abs/olute'],
  ['path', 'DATA/' + 'd/'.repeat(3000)],
  ['linkpath', '/etc'],
  ['mtime', 'NaN'],
  ['mtime', '-1e20'],
  ['mtime', '1.5'],
  ['uid', '-1'],
  ['uid', '1e30'],
  ['gid', 'abc'],
  ['hdrcharset', 'BINARY'],
  ['SCHILY.xattr.security.capability', 'x'],
  ['GNU.sparse.size', '1'],
  ['comment', 'x'.repeat(100000)]
];

const MALFORMED_PAX = [
  '5 size=1\n',
  '99999999 a=b\n',
  '8 noequal\n',
  '0 =\n',
  '-5 a=b\n',
  '12 size=1.5',
  '\n\n\n'
];

const insertPax: Mutation = (rng, m) => {
  const { tar, which } = someTar(rng, m);
  const at = rng.int(tar.members.length + 1);
  const global = rng.chance(0.3);
  let records: Buffer;
  let what: string;
  if (rng.chance(0.15)) {
    what = rng.pick(MALFORMED_PAX);
    records = Buffer.from(what);
  } else if (rng.chance(0.1)) {
    // Many records: a copy per member would be quadratic.
    const count = 1000 + rng.int(20000);
    records = Buffer.concat(
      Array.from({ length: count }, (_, i) => paxRecord(`x.k${i}`, 'v'))
    );
    what = `${count} records`;
  } else {
    const chosen = Array.from({ length: 1 + rng.int(3) }, () =>
      rng.pick(PAX_RECORDS)
    );
    records = Buffer.concat(chosen.map(([k, v]) => paxRecord(k, v)));
    what = chosen
      .map(
        ([k, v]) =>
          `${k}=${v.length > 40 ? `${v.slice(0, 20)}…(${v.length})` : v}`
      )
      .join(', ');
  }
  const pax = paxMember(records, global);
  if (rng.chance(0.1)) {
    setSize(pax.header, records.length + 1 + rng.int(4096)); // a size that disagrees
  }
  tar.members.splice(at, 0, pax);
  return `${which}: ${global ? 'global ' : ''}pax header before member ${at}: ${JSON.stringify(what)}`;
};

const insertGnuLong: Mutation = (rng, m) => {
  const { tar, which } = someTar(rng, m);
  const at = rng.int(tar.members.length + 1);
  const kind = rng.pick(['L', 'K']);
  const name = rng.pick([
    'DATA/' + 'n'.repeat(5000),
    '../../evil',
    '',
    'DATA/\u0000x',
    'DATA/' + 'é'.repeat(300)
  ]);
  const long = paxMember(Buffer.from(`${name}\0`), false);
  long.header.fill(0, 0, 100);
  long.header.write('././@LongLink', 0, 'latin1');
  long.header.write(kind, 156, 'latin1');
  if (rng.chance(0.2)) {
    setSize(long.header, 2 ** 33 - 1); // huge: must be refused, not allocated
  } else {
    fixChecksum(long.header);
  }
  tar.members.splice(at, 0, long);
  return `${which}: GNU ${kind} record before member ${at} (${name.length} chars)`;
};

const YAML_SNIPPETS = [
  'runs: []\n',
  'runs: !!binary aGVsbG8=\n',
  '&a [*a]\n',
  'a: &a [1,2]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n',
  '['.repeat(5000) + ']'.repeat(5000) + '\n',
  '{a: '.repeat(2000) + '1' + '}'.repeat(2000) + '\n',
  'x:' + ' '.repeat(200000) + 'y\n',
  '\t\tbad: indent\n',
  'uid: 1e400\n',
  'uid: -1\n',
  'argv: {a: b}\n',
  '? complex key\n: value\n',
  '%YAML 1.1\n---\n',
  '--- !!python/object:os.system [ls]\n',
  'version: "99"\n',
  'inputs_outputs: [{name: x, path: ../../etc, read_by_runs: [999999], written_by_runs: [-1]}]\n',
  '- ' + '- '.repeat(3000) + 'x\n',
  '\u0000\u0001\u0002\n',
  '"\\u',
  '\ufeff'
];

const mutateConfig: Mutation = (rng, m) => {
  const index = m.outer.members.findIndex(x =>
    isMember(x, 'METADATA/config.yml')
  );
  if (index === -1) {
    return 'config: absent';
  }
  let text = m.outer.members[index].body;
  let what: string;
  const op = rng.int(6);
  const at = rng.int(text.length + 1);
  if (op === 0) {
    const end = Math.min(text.length, at + 1 + rng.int(200));
    text = Buffer.concat([text.subarray(0, at), text.subarray(end)]);
    what = `deleted bytes ${at}–${end}`;
  } else if (op === 1) {
    const end = Math.min(text.length, at + 1 + rng.int(2000));
    const slice = text.subarray(at, end);
    text = Buffer.concat([
      text.subarray(0, end),
      slice,
      slice,
      text.subarray(end)
    ]);
    what = `duplicated bytes ${at}–${end} twice`;
  } else if (op === 2) {
    const lineStart = text.lastIndexOf(0x0a, at - 1) + 1;
    const snippet = rng.pick(YAML_SNIPPETS);
    text = Buffer.concat([
      text.subarray(0, lineStart),
      Buffer.from(snippet),
      text.subarray(lineStart)
    ]);
    what = `inserted ${JSON.stringify(snippet.slice(0, 40))} at ${lineStart}`;
  } else if (op === 3) {
    const source = text.toString('utf8');
    const numbers = [...source.matchAll(/\b\d+\b/g)];
    if (numbers.length === 0) {
      return 'config: no number to change';
    }
    const target = rng.pick(numbers);
    const value = rng.pick([
      '-1',
      '1.5',
      '99999999999999999999',
      '0x7fffffff',
      '1e308',
      'null',
      '[]',
      '{}'
    ]);
    text = Buffer.from(
      source.slice(0, target.index) +
        value +
        source.slice(target.index! + target[0].length)
    );
    what = `number ${target[0]} at ${target.index} → ${value}`;
  } else if (op === 4) {
    text = text.subarray(0, at);
    what = `cut at ${at}`;
  } else {
    text = Buffer.from(text);
    for (let i = 0; i < 1 + rng.int(8); i++) {
      text[rng.int(text.length)] = rng.pick([
        0x5b, 0x7b, 0x3a, 0x20, 0x09, 0x22, 0x27, 0x26, 0x2a, 0x21, 0xff, 0x00
      ]);
    }
    what = 'replaced bytes with YAML punctuation';
  }
  m.outer.members[index] = withBody(m.outer.members[index], text);
  return `config.yml: ${what}`;
};

/** SQL that turns the real trace into a hostile one (views, triggers, odd tables). */
const TRACE_SQL = [
  'DROP TABLE processes; CREATE VIEW processes AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x AS id, 0 AS run_id, NULL AS parent, x AS timestamp, 0 AS is_thread, 0 AS exitcode FROM c;',
  "DROP TABLE opened_files; CREATE VIEW opened_files AS SELECT 1 AS id, 0 AS run_id, '/x' AS name, 0 AS timestamp, 1 AS mode, 0 AS is_directory, 1 AS process;",
  'CREATE TRIGGER t AFTER INSERT ON processes BEGIN SELECT 1; END;',
  'DROP TABLE executed_files;',
  'ALTER TABLE processes RENAME TO p2;',
  'ALTER TABLE opened_files ADD COLUMN extra BLOB;',
  "UPDATE opened_files SET name = 'x' || hex(randomblob(2000));",
  'UPDATE processes SET run_id = 9999999999;',
  'UPDATE executed_files SET name = NULL;',
  "INSERT INTO opened_files(run_id, name, timestamp, mode, is_directory, process) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 50000) SELECT 0, '/f/' || x, x, 1, 0, 1 FROM c;",
  'CREATE VIRTUAL TABLE v USING fts5(a);',
  'PRAGMA user_version = -1;'
];

const mutateTrace: Mutation = (rng, m) => {
  const index = m.outer.members.findIndex(x =>
    isMember(x, 'METADATA/trace.sqlite3')
  );
  if (index === -1) {
    return 'trace: absent';
  }
  const original = m.outer.members[index];
  let body: Buffer;
  let what: string;
  const op = rng.int(4);
  if (op === 0) {
    body = Buffer.from(original.body);
    const count = 1 + rng.int(32);
    for (let i = 0; i < count; i++) {
      const at = rng.chance(0.3)
        ? rng.int(Math.min(100, body.length))
        : rng.int(body.length);
      body[at] = rng.int(256);
    }
    what = `${count} random bytes`;
  } else if (op === 1) {
    body = original.body.subarray(0, rng.int(original.body.length));
    what = `cut at ${body.length}`;
  } else {
    const sql = rng.pick(TRACE_SQL);
    const dir = mkdtempSync(join(tmpdir(), 'rpz-fuzz-trace-'));
    try {
      const path = join(dir, 't.sqlite3');
      writeFileSync(path, original.body);
      const db = new DatabaseSync(path);
      try {
        db.exec(sql);
      } catch {
        // A statement the trace's schema does not allow: the trace stays as it was.
      }
      db.close();
      body = readFileSync(path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    what = `SQL ${JSON.stringify(sql.slice(0, 60))}`;
  }
  if (rng.chance(0.15)) {
    // The compressed form, through the bomb guard.
    const renamed = withBody(original, gzipSync(body));
    renamed.header.fill(0, 0, 100);
    renamed.header.write('METADATA/trace.sqlite3.gz', 0, 'latin1');
    fixChecksum(renamed.header);
    m.outer.members[index] = renamed;
    return `trace (as trace.sqlite3.gz): ${what}`;
  }
  m.outer.members[index] = withBody(original, body);
  return `trace: ${what}`;
};

const mutateVersion: Mutation = (rng, m) => {
  const index = m.outer.members.findIndex(x => isMember(x, 'METADATA/version'));
  if (index === -1) {
    return 'version: absent';
  }
  const text = rng.pick([
    'REPROZIP VERSION 3\n',
    '',
    'REPROZIP VERSION 2',
    'REPROZIP VERSION 2\n' + 'x'.repeat(100000),
    'REPROZIP VERSION 1\n',
    '\u0000'
  ]);
  m.outer.members[index] = withBody(m.outer.members[index], Buffer.from(text));
  return `version: ${JSON.stringify(text.slice(0, 30))}`;
};

/** Damage to a gzip stream's framing: header flags, trailer, body, what follows. */
function damageGzip(rng: Rng, gz: Buffer): { bytes: Buffer; what: string } {
  const bytes = Buffer.from(gz);
  switch (rng.int(6)) {
    case 0: {
      const at = rng.int(10);
      bytes[at] = rng.int(256);
      return { bytes, what: `header byte ${at}` };
    }
    case 1:
      // FEXTRA | FNAME | FCOMMENT | FHCRC with no such fields.
      bytes[3] = rng.pick([0x04, 0x08, 0x10, 0x02, 0x1e, 0xe0]);
      return { bytes, what: `flags 0x${bytes[3].toString(16)}` };
    case 2: {
      const at = bytes.length - 1 - rng.int(8);
      bytes[at] ^= 0xff;
      return { bytes, what: `trailer byte ${at}` };
    }
    case 3: {
      const at = 10 + rng.int(Math.max(1, bytes.length - 18));
      bytes[at] ^= 1 << rng.int(8);
      return { bytes, what: `deflate bit at ${at}` };
    }
    case 4: {
      const cut = rng.int(bytes.length);
      return { bytes: bytes.subarray(0, cut), what: `cut at ${cut}` };
    }
    default: {
      const extra = rng.chance(0.5)
        ? gzipSync(Buffer.alloc(512 * (1 + rng.int(4)), rng.int(256)))
        : Buffer.from('trailing garbage after the gzip member');
      return {
        bytes: Buffer.concat([bytes, extra]),
        what: `${extra.length} bytes appended`
      };
    }
  }
}

const mutateGzip: Mutation = (rng, m) => {
  if (
    m.seed.layout === 'v2' ||
    (m.seed.layout === 'v2-gzip' && rng.chance(0.5))
  ) {
    const data = m.outer.members.find(x => isMember(x, 'DATA.tar.gz'));
    if (!data) {
      return 'DATA.tar.gz: absent';
    }
    const source =
      m.inner !== m.seed.inner && m.inner !== null
        ? fastGzip(joinTar(m.inner))
        : data.body;
    const { bytes, what } = damageGzip(rng, m.dataTarGz ?? source);
    m.dataTarGz = bytes;
    m.touchesData = true;
    return `DATA.tar.gz gzip: ${what}`;
  }
  m.after.push(bytes => {
    const damaged = damageGzip(rng, bytes);
    m.notes.push(`outer gzip: ${damaged.what}`);
    return damaged.bytes;
  });
  m.touchesData = true;
  return 'outer gzip (after assembly)';
};

const mutateRawBytes: Mutation = (rng, m) => {
  const op = rng.int(4);
  m.touchesData = true;
  if (op === 0) {
    const count = 1 + rng.int(16);
    m.after.push(bytes => {
      const copy = Buffer.from(bytes);
      for (let i = 0; i < count; i++) {
        copy[rng.int(copy.length)] = rng.int(256);
      }
      return copy;
    });
    return `${count} random bytes of the file`;
  }
  if (op === 1) {
    const fraction = rng.next();
    m.after.push(bytes =>
      bytes.subarray(0, Math.floor(bytes.length * fraction))
    );
    return `file cut at ${(fraction * 100).toFixed(1)}%`;
  }
  const { tar, which } = someTar(rng, m);
  const at = rng.int(tar.members.length);
  if (op === 2) {
    tar.members.splice(at, 0, {
      header: Buffer.alloc(512),
      body: Buffer.alloc(0)
    });
    return `${which}: a zero block (early end) before member ${at}`;
  }
  tar.members.splice(at, 1);
  return `${which}: member ${at} removed`;
};

export const MUTATIONS: [string, Mutation][] = [
  ['numeric-field', mutateNumericField],
  ['name', mutateName],
  ['typeflag', mutateTypeflag],
  ['link', mutateLink],
  ['pax', insertPax],
  ['gnu-long', insertGnuLong],
  ['config', mutateConfig],
  ['trace', mutateTrace],
  ['version', mutateVersion],
  ['gzip', mutateGzip],
  ['raw-bytes', mutateRawBytes]
];

/** One to three mutations of the seed; returns the case and what was done. */
export function mutate(
  rng: Rng,
  seed: Seed
): { bytes: Buffer; what: string[]; touchesData: boolean } {
  const m = mutantOf(seed);
  const what: string[] = [];
  const count = 1 + (rng.chance(0.3) ? rng.int(3) : 0);
  for (let i = 0; i < count; i++) {
    const [name, mutation] = rng.pick(MUTATIONS);
    what.push(`${name}: ${mutation(rng, m)}`);
  }
  const bytes = bytesOf(m);
  return { bytes, what: [...what, ...m.notes], touchesData: m.touchesData };
}
