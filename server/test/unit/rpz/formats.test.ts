import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, writeSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import {
  readEntries,
  readPackage,
  scanEntries,
  type FsEntry
} from '../../../src/rpz';
import {
  buildRpz,
  gnuLong,
  paxHeader,
  rawMember,
  rawTar,
  tarStreamBuffer,
  tempFolder,
  traceBytes,
  writeRpz
} from '../../helpers/synthetic-rpz';

let folder: ReturnType<typeof tempFolder>;
beforeEach(() => {
  folder = tempFolder();
});
afterEach(() => folder.cleanup());

/** Entries as plain data, with file contents read. */
async function listEntries(path: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const entry of readEntries(path)) {
    out.push(await describeEntry(entry));
  }
  return out;
}

async function describeEntry(entry: FsEntry): Promise<Record<string, unknown>> {
  const { path, type, mode, uid, gid } = entry;
  if (entry.type === 'file') {
    const chunks: Buffer[] = [];
    for await (const chunk of entry.body) {
      chunks.push(chunk as Buffer);
    }
    return {
      path,
      type,
      mode,
      uid,
      gid,
      size: entry.size,
      content: Buffer.concat(chunks).toString()
    };
  }
  if (entry.type === 'symlink' || entry.type === 'hardlink') {
    return { path, type, mode, uid, gid, target: entry.target };
  }
  return { path, type, mode, uid, gid };
}

const EXPECTED_ENTRIES = [
  {
    path: 'bin',
    type: 'symlink',
    mode: 0o644,
    uid: 0,
    gid: 0,
    target: 'usr/bin'
  },
  { path: 'etc', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
  { path: 'etc/alternatives', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
  {
    path: 'etc/alternatives/python',
    type: 'symlink',
    mode: 0o644,
    uid: 0,
    gid: 0,
    target: '/usr/bin/python3'
  },
  { path: 'home', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
  { path: 'home/ana', type: 'directory', mode: 0o750, uid: 1000, gid: 1000 },
  {
    path: 'home/ana/in.txt',
    type: 'file',
    mode: 0o644,
    uid: 1000,
    gid: 1000,
    size: 8,
    content: 'a,b\n1,2\n'
  },
  {
    path: 'home/ana/script.py',
    type: 'file',
    mode: 0o755,
    uid: 1000,
    gid: 1000,
    size: 9,
    content: 'print(1)\n'
  },
  {
    path: 'home/ana/copy.py',
    type: 'hardlink',
    mode: 0o644,
    uid: 1000,
    gid: 1000,
    target: 'home/ana/script.py'
  },
  { path: 'usr', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
  { path: 'usr/bin', type: 'directory', mode: 0o755, uid: 0, gid: 0 },
  {
    path: 'usr/bin/python3',
    type: 'file',
    mode: 0o4755,
    uid: 0,
    gid: 0,
    size: 14,
    content: '#!fake python\n'
  }
];

describe.each([
  ['v1', 1, 'v1-gzip-tar'],
  ['v2', 2, 'v2-tar'],
  ['v2-gzip', 2, 'v2-gzip-tar']
] as const)('a %s package', (layout, format, container) => {
  it('reads into the model, with the trace summary and the file hash', async () => {
    const bytes = await buildRpz({ layout });
    const path = folder.write('p.rpz', bytes);
    const model = await readPackage(path);
    expect(model).toMatchObject({
      format,
      container,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: bytes.length,
      configVersion: '0.8',
      packId: null,
      otherFiles: ['/bin', '/home/ana/in.txt', '/home/ana/script.py'],
      data: { listedPaths: 4 },
      extensions: [],
      warnings: []
    });
    expect(model.runs.map(r => r.id)).toEqual(['main']);
    expect(model.files.map(f => [f.name, f.readBy, f.writtenBy])).toEqual([
      ['in.txt', [0], []],
      ['out.txt', [], [0]]
    ]);
    expect(model.trace).toEqual({
      status: 'ok',
      runs: [
        {
          run: 0,
          processes: 2,
          programs: ['/usr/bin/python3', '/bin/sh'],
          filesRead: ['/home/ana/in.txt'],
          filesWritten: ['/home/ana/out.txt']
        }
      ]
    });
    expect(JSON.parse(JSON.stringify(model))).toEqual(model);
  });

  it('streams normalized entries: DATA/ stripped from names and hard-link targets, symlinks verbatim', async () => {
    const path = await writeRpz(folder, 'p.rpz', { layout });
    expect(await listEntries(path)).toEqual(EXPECTED_ENTRIES);
    expect(await scanEntries(path)).toEqual({ entries: 12, bytes: 31 });
  });

  it('skips devices and FIFOs with a warning, and reports progress', async () => {
    const path = await writeRpz(folder, 'p.rpz', {
      layout,
      data: [
        { name: 'DATA/dev', type: 'directory' },
        { name: 'DATA/dev/null', type: 'character-device' },
        { name: 'DATA/dev/sda', type: 'block-device' },
        { name: 'DATA/tmp', type: 'directory' },
        { name: 'DATA/tmp/pipe', type: 'fifo' },
        { name: 'DATA/tmp/f', content: 'x' }
      ]
    });
    const stream = readEntries(path);
    const seen: string[] = [];
    for await (const entry of stream) {
      seen.push(entry.path);
    }
    expect(seen).toEqual(['dev', 'tmp', 'tmp/f']);
    expect(stream.warnings).toEqual([
      'DATA/dev/null is a chardev; it is skipped.',
      'DATA/dev/sda is a blockdev; it is skipped.',
      'DATA/tmp/pipe is a fifo; it is skipped.'
    ]);
    expect(stream.progress.entries).toBe(3);
    expect(stream.progress.compressedBytes).toBe(
      stream.progress.compressedTotal
    );
    expect(stream.progress.uncompressedBytes).toBeGreaterThan(0);
  });
});

describe('tar dialects inside DATA.tar.gz', () => {
  const longDir = 'DATA/' + 'd'.repeat(120);
  const longName = `${longDir}/${'f'.repeat(130)}.txt`;
  const longTarget = '/' + 't'.repeat(180);

  it('reads GNU L/K long names and long link targets', async () => {
    const dataTar = rawTar([
      rawMember({ name: 'DATA', typeflag: '5', magic: 'gnu' }),
      gnuLong(longDir),
      rawMember({ name: 'truncated-dir-name', typeflag: '5', magic: 'gnu' }),
      gnuLong(longName),
      rawMember(
        { name: 'truncated-file-name', magic: 'gnu', uid: 7, gid: 8 },
        'long!'
      ),
      gnuLong(longDir + '/link'),
      gnuLong(longTarget, 'K'),
      rawMember({
        name: 'truncated-link',
        typeflag: '2',
        linkname: 'truncated-target',
        magic: 'gnu'
      })
    ]);
    const path = await writeRpz(folder, 'p.rpz', { dataTar });
    const entries = await listEntries(path);
    expect(entries.map(e => [e.path, e.type, e.target ?? e.content])).toEqual([
      [longDir.slice(5), 'directory', undefined],
      [longName.slice(5), 'file', 'long!'],
      [longDir.slice(5) + '/link', 'symlink', longTarget]
    ]);
    expect(entries[1]).toMatchObject({ uid: 7, gid: 8 });
  });

  it('reads pax long names (from tar-stream) and global plus per-file pax records', async () => {
    const tarStreamPart = await tarStreamBuffer([
      { name: 'DATA', type: 'directory' },
      { name: longDir, type: 'directory' },
      { name: longName, content: 'pax!' }
    ]);
    const dataTar = rawTar([
      tarStreamPart.subarray(0, tarStreamPart.length - 1024), // drop its end marker
      paxHeader([['uid', '4242']], true),
      paxHeader([
        ['path', 'DATA/é-ünïcode/' + 'x'.repeat(150)],
        ['mtime', '1700000000.25'],
        ['gid', '99999999']
      ]),
      rawMember({ name: 'ignored' }, 'body')
    ]);
    const path = await writeRpz(folder, 'p.rpz', { dataTar });
    const stream = readEntries(path);
    const got: FsEntry[] = [];
    for await (const entry of stream) {
      got.push(entry);
      if (entry.type === 'file') {
        entry.body.resume();
      }
    }
    expect(got.map(e => e.path)).toEqual([
      longDir.slice(5),
      longName.slice(5),
      'é-ünïcode/' + 'x'.repeat(150)
    ]);
    expect(got[2]).toMatchObject({
      uid: 4242,
      gid: 99999999,
      mtime: 1700000000.25
    });
  });

  it('reports a declared size over 8 GiB (base-256) before the body is read, then fails on the short body', async () => {
    const nine = 9 * 1024 ** 3;
    const dataTar = Buffer.concat([
      rawMember({ name: 'DATA', typeflag: '5' }),
      rawMember(
        { name: 'DATA/huge.img', size: nine, base256Size: true },
        'only a little data'
      )
    ]);
    const path = await writeRpz(folder, 'p.rpz', {
      dataTarGz: gzipSync(dataTar)
    });
    const iterator = readEntries(path)[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toMatchObject({
      path: 'huge.img',
      type: 'file',
      size: nine
    });
    const body = (first.value as Extract<FsEntry, { type: 'file' }>).body;
    await expect(
      (async () => {
        for await (const chunk of body) {
          void chunk;
        }
      })()
    ).rejects.toMatchObject({ code: 'truncated' });
    await expect(iterator.next()).rejects.toMatchObject({
      code: 'truncated',
      message:
        'The package is truncated: member DATA/huge.img ends before its declared size (p.rpz)'
    });
  });
});

describe('metadata without the data', () => {
  it.each([
    ['base-256', false],
    ['pax size', true]
  ])(
    'walks past a DATA.tar.gz declared over 8 GiB with a %s header (sparse file)',
    async (_label, usePax) => {
      const nine = 9 * 1024 ** 3 + 100;
      const head = usePax
        ? Buffer.concat([
            paxHeader([['size', String(nine)]]),
            rawMember({ name: 'DATA.tar.gz', size: 0 }).subarray(0, 512)
          ])
        : rawMember({
            name: 'DATA.tar.gz',
            size: nine,
            base256Size: true
          }).subarray(0, 512);
      const metadata = rawTar([
        rawMember({ name: 'METADATA/version' }, 'REPROZIP VERSION 2\n'),
        rawMember(
          { name: 'METADATA/config.yml' },
          'version: "0.8"\nruns:\n- {argv: [a], binary: /a, workingdir: /, uid: 0, gid: 0}\n'
        )
      ]);
      const path = `${folder.dir}/sparse.rpz`;
      const fd = openSync(path, 'w');
      writeSync(fd, head, 0, head.length, 0);
      const afterData = head.length + Math.ceil(nine / 512) * 512;
      writeSync(fd, metadata, 0, metadata.length, afterData);
      closeSync(fd);
      const started = Date.now();
      const model = await readPackage(path, { sha256: false });
      expect(Date.now() - started).toBeLessThan(2000);
      expect(model).toMatchObject({
        format: 2,
        container: 'v2-tar',
        size: afterData + metadata.length,
        trace: { status: 'absent' }
      });
      expect(model.data.compressedSize).toBe(nine);
    }
  );

  it('never decompresses DATA.tar.gz of a plain v2 package', async () => {
    const path = await writeRpz(folder, 'p.rpz', {
      dataTarGz: Buffer.from('this is not gzip at all')
    });
    await expect(readPackage(path)).resolves.toMatchObject({ format: 2 });
  });

  it('records extensions, and reports an absent or corrupt trace without failing', async () => {
    const absent = await writeRpz(folder, 'a.rpz', {
      trace: null,
      extra: [
        { name: 'EXTENSIONS/web1/archive.wacz', content: 'x' },
        { name: 'EXTENSIONS/web1/config.json', content: '{}' }
      ]
    });
    expect(await readPackage(absent)).toMatchObject({
      trace: { status: 'absent' },
      extensions: ['web1'],
      warnings: []
    });
    const corrupt = await writeRpz(folder, 'c.rpz', {
      trace: Buffer.from('SQLite format 3\0 but then garbage')
    });
    const model = await readPackage(corrupt);
    expect(model.trace).toEqual({
      status: 'unreadable',
      reason: 'file is not a database'
    });
    expect(model.warnings).toEqual([
      'The trace database cannot be read (file is not a database); the trace summary is missing.'
    ]);
    const gz = await writeRpz(folder, 'g.rpz', {
      trace: null,
      extra: [
        { name: 'METADATA/trace.sqlite3.gz', content: gzipSync(traceBytes()) }
      ]
    });
    expect((await readPackage(gz)).trace).toMatchObject({ status: 'ok' });
  });
});

describe('streaming', () => {
  it('streams a large body in bounded chunks without decompressing far ahead, and skips unread bodies', async () => {
    const big = randomBytes(8 * 1024 * 1024);
    const path = await writeRpz(folder, 'p.rpz', {
      data: [
        { name: 'DATA/big.bin', content: big },
        { name: 'DATA/skipped.bin', content: randomBytes(1024 * 1024) },
        { name: 'DATA/after.txt', content: 'after' }
      ]
    });
    const stream = readEntries(path);
    const iterator = stream[Symbol.asyncIterator]();
    const first = (await iterator.next()).value as Extract<
      FsEntry,
      { type: 'file' }
    >;
    const hash = createHash('sha256');
    let maxChunk = 0;
    let maxAhead = 0;
    let read = 0;
    for await (const chunk of first.body) {
      const buffer = chunk as Buffer;
      maxChunk = Math.max(maxChunk, buffer.length);
      read += buffer.length;
      maxAhead = Math.max(maxAhead, stream.progress.uncompressedBytes - read);
      hash.update(buffer);
    }
    expect(hash.digest('hex')).toBe(
      createHash('sha256').update(big).digest('hex')
    );
    expect(maxChunk).toBeLessThanOrEqual(1024 * 1024);
    // Decompression stays within a few chunks of what the consumer has read.
    expect(maxAhead).toBeLessThan(4 * 1024 * 1024);
    expect(((await iterator.next()).value as FsEntry).path).toBe('skipped.bin');
    const last = (await iterator.next()).value as Extract<
      FsEntry,
      { type: 'file' }
    >;
    expect(last.path).toBe('after.txt');
    expect((await last.body.toArray()).join('')).toBe('after');
    expect((await iterator.next()).done).toBe(true);
  });

  it('stops when the caller aborts', async () => {
    const controller = new AbortController();
    const path = await writeRpz(folder, 'p.rpz');
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const entry of readEntries(path, {
          signal: controller.signal
        })) {
          seen.push(entry.path);
          controller.abort();
        }
      })()
    ).rejects.toMatchObject({
      code: 'aborted',
      message: 'Reading the package was aborted (p.rpz)'
    });
    expect(seen).toEqual(['bin']);
  });
});

describe('old packages and early stops', () => {
  it('reads a v1 package with a legacy config (no ids, per-run input/output maps, capitalised distribution)', async () => {
    const path = await writeRpz(folder, 'old.rpz', {
      layout: 'v1',
      trace: null,
      config: `version: '0.4.1'
runs:
- architecture: i686
  argv: [./run.sh, in.txt]
  binary: /home/u/run.sh
  distribution: [Ubuntu, '12.04']
  environ: {HOME: /home/u}
  exitcode: 0
  gid: 1000
  hostname: box
  input_files: {in: /home/u/in.txt}
  output_files: {out: /home/u/out.txt}
  uid: 1000
  workingdir: /home/u
other_files: [/home/u/in.txt]
`
    });
    const model = await readPackage(path);
    expect(model).toMatchObject({
      format: 1,
      container: 'v1-gzip-tar',
      configVersion: '0.4.1',
      runs: [
        {
          id: 'run0',
          architecture: 'i686',
          distribution: { name: 'ubuntu', version: '12.04' }
        }
      ],
      files: [
        { name: 'in', path: '/home/u/in.txt', readBy: [0], writtenBy: [] },
        { name: 'out', path: '/home/u/out.txt', readBy: [], writtenBy: [0] }
      ],
      trace: { status: 'absent' },
      warnings: []
    });
  });

  it('releases the file when the consumer stops early', async () => {
    const path = await writeRpz(folder, 'p.rpz', {
      layout: 'v2-gzip',
      data: [{ name: 'DATA/big', content: randomBytes(4 * 1024 * 1024) }]
    });
    const openFds = (): number => readdirSync('/proc/self/fd').length;
    const before = openFds();
    for (let i = 0; i < 5; i++) {
      for await (const entry of readEntries(path)) {
        expect(entry.path).toBe('big');
        break;
      }
    }
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(openFds()).toBe(before);
  });
});
