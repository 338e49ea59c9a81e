/**
 * Builders of synthetic ReproZip packages for tests: well-formed ones made with tar-stream (v1,
 * v2 plain, v2 with a gzip outer tar), and hand-made tar bytes for dialects and damage tar-stream
 * will not write (GNU long names, base-256 sizes, bad checksums, non-UTF-8 names…).
 * Everything is small and built in memory; `writeRpz` writes into a per-test temporary folder.
 */
import { DatabaseSync } from 'node:sqlite';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

/** A tar member for `tarStreamBuffer`. */
export interface Member {
  name: string;
  type?:
    | 'file'
    | 'directory'
    | 'symlink'
    | 'link'
    | 'character-device'
    | 'block-device'
    | 'fifo';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  uname?: string;
  gname?: string;
  /** Extra pax records (forces a pax header). */
  pax?: Record<string, string>;
}

/** Builds a tar with tar-stream (ustar, pax for long names). */
export async function tarStreamBuffer(members: Member[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const m of members) {
    const type = m.type ?? 'file';
    const content = type === 'file' ? Buffer.from(m.content ?? '') : undefined;
    const header: tar.Header = {
      name: m.name,
      type,
      mode: m.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: m.uid ?? 0,
      gid: m.gid ?? 0,
      mtime: m.mtime ?? new Date(1700000000000),
      uname: m.uname ?? 'root',
      gname: m.gname ?? 'root',
      devmajor: 0,
      devminor: 0,
      linkname: m.linkname ?? '',
      size: content?.length ?? 0,
      ...(m.pax ? { pax: m.pax } : {})
    };
    await new Promise<void>((resolve, reject) => {
      pack.entry(header, content ?? '', err => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  return done;
}

// ---- hand-made tar bytes ----------------------------------------------------------------------

/** Fields of a raw header block. Numbers default to 0, magic to ustar. */
export interface RawFields {
  name: string | Buffer;
  typeflag?: string;
  size?: number;
  /** Use GNU base-256 for the size field. */
  base256Size?: boolean;
  linkname?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  magic?: 'ustar' | 'gnu';
  /** Corrupt the checksum. */
  badChecksum?: boolean;
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** One 512-byte tar header block. */
export function rawHeader(f: RawFields): Buffer {
  const block = Buffer.alloc(512);
  Buffer.from(f.name).copy(block, 0, 0, 100);
  block.write(octal(f.mode ?? 0o644, 8), 100, 'latin1');
  block.write(octal(f.uid ?? 0, 8), 108, 'latin1');
  block.write(octal(f.gid ?? 0, 8), 116, 'latin1');
  const size = f.size ?? 0;
  if (f.base256Size) {
    block[124] = 0x80;
    let v = size;
    for (let i = 135; i > 124; i--) {
      block[i] = v % 256;
      v = Math.floor(v / 256);
    }
  } else {
    block.write(octal(size, 12), 124, 'latin1');
  }
  block.write(octal(f.mtime ?? 1700000000, 12), 136, 'latin1');
  block.write(f.typeflag ?? '0', 156, 'latin1');
  if (f.linkname !== undefined) {
    Buffer.from(f.linkname).copy(block, 157, 0, 100);
  }
  if (f.magic === 'gnu') {
    block.write('ustar  \0', 257, 'latin1');
  } else {
    block.write('ustar\u000000', 257, 'latin1');
  }
  block.write('root', 265, 'latin1');
  block.write('root', 297, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) {
    sum += byte;
  }
  block.write(octal(f.badChecksum ? sum + 1 : sum, 7) + ' ', 148, 'latin1');
  return block;
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

/**
 * Overwrites bytes of the first header block of `member` (a raw member, header first) and fixes
 * its checksum, for damage `rawHeader` cannot express (garbage in a numeric field).
 */
export function patchHeader(
  member: Buffer,
  offset: number,
  bytes: Buffer | number[]
): Buffer {
  const copy = Buffer.from(member);
  Buffer.from(bytes).copy(copy, offset);
  copy.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) {
    sum += copy[i];
  }
  copy.write(octal(sum, 7) + ' ', 148, 'latin1');
  return copy;
}

/** A complete member: header plus padded data. */
export function rawMember(
  f: Omit<RawFields, 'size'> & { size?: number },
  data: Buffer | string = ''
): Buffer {
  const body = Buffer.from(data);
  return Buffer.concat([
    rawHeader({ ...f, size: f.size ?? body.length }),
    pad(body)
  ]);
}

/** A GNU `L` (or `K` for link targets) long-name record followed by nothing: put the member next. */
export function gnuLong(name: string | Buffer, kind: 'L' | 'K' = 'L'): Buffer {
  const data = Buffer.concat([Buffer.from(name), Buffer.alloc(1)]);
  return rawMember(
    { name: '././@LongLink', typeflag: kind, magic: 'gnu' },
    data
  );
}

/** A pax record string `<len> key=value\n`. */
export function paxRecord(key: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([
    Buffer.from(` ${key}=`),
    Buffer.from(value),
    Buffer.from('\n')
  ]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) {
    length = String(length).length + body.length;
  }
  return Buffer.concat([Buffer.from(String(length)), body]);
}

/** A pax extended header (`x`, or `g` for global) with the given records. */
export function paxHeader(
  records: [string, string | Buffer][],
  global = false
): Buffer {
  const data = Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));
  return rawMember(
    {
      name: global ? 'pax_global_header' : 'PaxHeader',
      typeflag: global ? 'g' : 'x'
    },
    data
  );
}

/** Two zero blocks. */
export const END = Buffer.alloc(1024);

/** Concatenates raw members and the end marker. */
export function rawTar(parts: Buffer[], end = true): Buffer {
  return Buffer.concat(end ? [...parts, END] : parts);
}

// ---- packages ---------------------------------------------------------------------------------

/** A minimal valid config for one run reading `in.txt` and writing `out.txt`. */
export const BASIC_CONFIG = `version: "0.8"
runs:
- architecture: x86_64
  argv: [python3, script.py, --n, '5', in.txt]
  binary: /usr/bin/python3
  distribution: [ubuntu, '22.04']
  environ: {HOME: /home/ana, PATH: '/usr/bin:/bin'}
  exitcode: 0
  gid: 1000
  hostname: lab
  id: main
  system: [Linux, 5.15.0]
  uid: 1000
  workingdir: /home/ana
inputs_outputs:
- name: in.txt
  path: /home/ana/in.txt
  written_by_runs: []
  read_by_runs: [0]
- name: out.txt
  path: /home/ana/out.txt
  written_by_runs: [0]
  read_by_runs: []
packages:
  - name: "python3"
    version: "3.10"
    size: 1000
    packfiles: true
    files:
      - "/usr/bin/python3" # 1 KB
other_files:
  - "/bin" # Link
  - "/home/ana/in.txt"
  - "/home/ana/script.py"
`;

/** DATA members matching BASIC_CONFIG, with a hard link and an absolute symlink. */
export function basicData(): Member[] {
  return [
    { name: 'DATA/bin', type: 'symlink', linkname: 'usr/bin' },
    { name: 'DATA/etc', type: 'directory' },
    { name: 'DATA/etc/alternatives', type: 'directory' },
    {
      name: 'DATA/etc/alternatives/python',
      type: 'symlink',
      linkname: '/usr/bin/python3'
    },
    { name: 'DATA/home', type: 'directory' },
    {
      name: 'DATA/home/ana',
      type: 'directory',
      uid: 1000,
      gid: 1000,
      mode: 0o750
    },
    {
      name: 'DATA/home/ana/in.txt',
      content: 'a,b\n1,2\n',
      uid: 1000,
      gid: 1000
    },
    {
      name: 'DATA/home/ana/script.py',
      content: 'print(1)\n',
      uid: 1000,
      gid: 1000,
      mode: 0o755
    },
    {
      name: 'DATA/home/ana/copy.py',
      type: 'link',
      linkname: 'DATA/home/ana/script.py',
      uid: 1000,
      gid: 1000
    },
    { name: 'DATA/usr', type: 'directory' },
    { name: 'DATA/usr/bin', type: 'directory' },
    { name: 'DATA/usr/bin/python3', content: '#!fake python\n', mode: 0o4755 }
  ];
}

let cachedTrace: Buffer | null = null;

/** A small valid trace database, as bytes (built once per test file). */
export function traceBytes(): Buffer {
  cachedTrace ??= makeTrace();
  return cachedTrace;
}

function makeTrace(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'rpz-trace-'));
  try {
    const path = join(dir, 'trace.sqlite3');
    const db = new DatabaseSync(path);
    db.exec(`
      CREATE TABLE processes(id INTEGER NOT NULL PRIMARY KEY, run_id INTEGER NOT NULL, parent INTEGER,
        timestamp INTEGER NOT NULL, is_thread BOOLEAN NOT NULL, exitcode INTEGER);
      CREATE TABLE opened_files(id INTEGER NOT NULL PRIMARY KEY, run_id INTEGER NOT NULL, name TEXT NOT NULL,
        timestamp INTEGER NOT NULL, mode INTEGER NOT NULL, is_directory BOOLEAN NOT NULL, process INTEGER NOT NULL);
      CREATE TABLE executed_files(id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, run_id INTEGER NOT NULL,
        timestamp INTEGER NOT NULL, process INTEGER NOT NULL, argv TEXT NOT NULL, envp TEXT NOT NULL,
        workingdir TEXT NOT NULL);
      INSERT INTO processes VALUES (1, 0, NULL, 1, 0, 0), (2, 0, 1, 2, 0, 0), (3, 0, 2, 3, 1, 0);
      INSERT INTO executed_files VALUES (1, '/usr/bin/python3', 0, 1, 1, 'python3', '', '/home/ana'),
        (2, '/usr/bin/python3', 0, 2, 2, 'python3', '', '/home/ana'), (3, '/bin/sh', 0, 3, 2, 'sh', '', '/home/ana');
      INSERT INTO opened_files VALUES (1, 0, '/home/ana/in.txt', 1, 1, 0, 1), (2, 0, '/home/ana/out.txt', 2, 2, 0, 1),
        (3, 0, '/home/ana', 3, 4, 1, 1), (4, 0, '/home/ana/in.txt', 4, 1, 0, 2), (5, 0, '/run/sock', 5, 34, 0, 1);
    `);
    db.close();
    return readFileSync(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A trace database made by running `sql` on an empty SQLite file, as bytes. */
export function traceWith(sql: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'rpz-trace-'));
  try {
    const path = join(dir, 'trace.sqlite3');
    const db = new DatabaseSync(path);
    db.exec(sql);
    db.close();
    return readFileSync(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How to assemble a package. Omit a field for the valid default; `null` leaves the member out. */
export interface PackageSpec {
  layout?: 'v1' | 'v2' | 'v2-gzip';
  version?: string | null;
  config?: string | null;
  trace?: Buffer | null;
  data?: Member[];
  /** Raw bytes of DATA.tar.gz (v2), replacing the one built from `data`. */
  dataTarGz?: Buffer | null;
  /** Raw bytes of the inner (uncompressed) DATA tar, gzipped into DATA.tar.gz (v2). */
  dataTar?: Buffer;
  /** Extra outer members, appended after the metadata. */
  extra?: Member[];
}

/** Builds a package in memory. */
export async function buildRpz(spec: PackageSpec = {}): Promise<Buffer> {
  const layout = spec.layout ?? 'v2';
  const version =
    spec.version === undefined
      ? `REPROZIP VERSION ${layout === 'v1' ? 1 : 2}\n`
      : spec.version;
  const config = spec.config === undefined ? BASIC_CONFIG : spec.config;
  const trace = spec.trace === undefined ? traceBytes() : spec.trace;
  const data = spec.data ?? basicData();
  const metadata: Member[] = [];
  if (version !== null) {
    metadata.push({ name: 'METADATA/version', content: version });
  }
  if (trace !== null) {
    metadata.push({ name: 'METADATA/trace.sqlite3', content: trace });
  }
  if (config !== null) {
    metadata.push({ name: 'METADATA/config.yml', content: config });
  }
  if (layout === 'v1') {
    // v1 write order: trace, DATA/…, version, config.
    const ordered = [
      ...metadata.filter(m => m.name === 'METADATA/trace.sqlite3'),
      { name: 'DATA', type: 'directory' as const },
      ...data,
      ...metadata.filter(m => m.name !== 'METADATA/trace.sqlite3'),
      ...(spec.extra ?? [])
    ];
    return gzipSync(await tarStreamBuffer(ordered));
  }
  let dataTarGz: Buffer | null;
  if (spec.dataTarGz !== undefined) {
    dataTarGz = spec.dataTarGz;
  } else {
    dataTarGz = gzipSync(
      spec.dataTar ??
        (await tarStreamBuffer([{ name: 'DATA', type: 'directory' }, ...data]))
    );
  }
  const outer = await tarStreamBuffer([
    ...(dataTarGz !== null
      ? [{ name: 'DATA.tar.gz', content: dataTarGz }]
      : []),
    ...metadata,
    ...(spec.extra ?? [])
  ]);
  return layout === 'v2-gzip' ? gzipSync(outer) : outer;
}

/** A temporary folder for one test, removed by `cleanup`. */
export function tempFolder(): {
  dir: string;
  write(name: string, bytes: Buffer): string;
  cleanup(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), 'rpz-test-'));
  return {
    dir,
    write(name: string, bytes: Buffer): string {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      return path;
    },
    cleanup(): void {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** Builds the package and writes it as `name` in `folder`. */
export async function writeRpz(
  folder: { write(name: string, bytes: Buffer): string },
  name: string,
  spec: PackageSpec = {}
): Promise<string> {
  return folder.write(name, await buildRpz(spec));
}
