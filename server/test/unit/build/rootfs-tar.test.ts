import { randomBytes } from 'node:crypto';
import * as tar from 'tar-stream';
import { Readable } from 'node:stream';
import { isWhiteout, rootfsTar } from '../../../src/build';
import { readEntries, RpzError, type FsEntry } from '../../../src/rpz';
import {
  basicData,
  buildRpz,
  tempFolder,
  writeRpz,
  type Member
} from '../../helpers/synthetic-rpz';

interface Seen {
  header: tar.Header;
  content: Buffer;
}

/** Reads a tar stream back with tar-stream's extractor. */
async function readTar(stream: NodeJS.ReadableStream): Promise<Seen[]> {
  const extract = tar.extract();
  const seen: Seen[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) {
        chunks.push(chunk as Buffer);
      }
      seen.push({ header: entry.header, content: Buffer.concat(chunks) });
    }
  })();
  stream.on('error', error => extract.destroy(error as Error));
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  await done;
  return seen;
}

type Bodiless<E> = E extends unknown ? Omit<E, 'body'> : never;

async function entriesOf(path: string): Promise<Bodiless<FsEntry>[]> {
  const out: Bodiless<FsEntry>[] = [];
  for await (const entry of readEntries(path)) {
    if (entry.type === 'file') {
      const { body, ...rest } = entry;
      body.resume();
      out.push(rest);
    } else {
      out.push(entry);
    }
  }
  return out;
}

const extra: Member[] = [
  { name: 'DATA/etc/.wh.secret', content: 'would be a whiteout\n' },
  {
    name: `DATA/home/ana/${'long-name-'.repeat(15)}.txt`,
    content: 'long\n',
    uid: 1000,
    gid: 1000
  },
  { name: 'DATA/tmp', type: 'directory', mode: 0o1777 }
];

describe('rootfsTar', () => {
  const folder = tempFolder();
  afterAll(() => folder.cleanup());

  it('writes every entry exactly: owners, modes (0, setuid, sticky), links, long names', async () => {
    const path = await writeRpz(folder, 'basic.rpz', {
      data: [...basicData(), ...extra]
    });
    const expected = (await entriesOf(path)).filter(e => !isWhiteout(e.path));
    const warnings: string[] = [];
    const { tar: stream, done } = rootfsTar(readEntries(path), {
      onWarning: w => warnings.push(w)
    });
    const seen = await readTar(stream);
    await done;
    expect(warnings).toEqual([
      expect.stringContaining('/etc/.wh.secret is left out')
    ]);
    expect(seen.map(s => s.header.name)).toEqual(expected.map(e => e.path));
    const byPath = new Map(expected.map(e => [e.path, e]));
    for (const [i, entry] of expected.entries()) {
      const h = seen[i].header;
      // A hard link is written with its target's attributes: they share one inode.
      const inode =
        entry.type === 'hardlink' ? (byPath.get(entry.target) ?? entry) : entry;
      expect({
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        uname: h.uname,
        gname: h.gname,
        mtime: h.mtime.getTime() / 1000
      }).toEqual({
        mode: inode.mode,
        uid: inode.uid,
        gid: inode.gid,
        uname: inode.uname,
        gname: inode.gname,
        mtime: inode.mtime
      });
      const type = {
        directory: 'directory',
        file: 'file',
        symlink: 'symlink',
        hardlink: 'link'
      }[entry.type];
      expect(h.type).toBe(type);
      if (entry.type === 'symlink' || entry.type === 'hardlink') {
        expect(h.linkname).toBe(entry.target);
      }
    }
    const byName = new Map(seen.map(s => [s.header.name, s]));
    expect(byName.get('usr/bin/python3')?.header.mode).toBe(0o4755);
    expect(byName.get('tmp')?.header.mode).toBe(0o1777);
    expect(byName.get('etc/alternatives/python')?.header.linkname).toBe(
      '/usr/bin/python3'
    );
    expect(byName.get('home/ana/copy.py')?.header).toMatchObject({
      linkname: 'home/ana/script.py',
      mode: 0o755 // script.py's, not the 644 of the link's own header
    });
    expect(byName.get('home/ana/in.txt')?.content.toString()).toBe(
      'a,b\n1,2\n'
    );
  });

  it('keeps mode 0, odd owners and fractional mtimes', async () => {
    async function* entries(): AsyncGenerator<FsEntry> {
      const common = { uname: '', gname: '', mtime: 1700000000.5 };
      yield {
        ...common,
        path: 'etc',
        type: 'directory',
        mode: 0,
        uid: 0,
        gid: 0
      };
      yield {
        ...common,
        path: 'etc/shadow',
        type: 'file',
        mode: 0,
        uid: 0,
        gid: 42,
        size: 3,
        body: Readable.from([Buffer.from('x:\n')])
      };
      yield {
        ...common,
        path: 'etc/link',
        type: 'symlink',
        mode: 0o777,
        uid: 65534,
        gid: 65534,
        target: '../nowhere'
      };
    }
    const seen = await readTar(rootfsTar(entries()).tar);
    expect(
      seen.map(s => [s.header.name, s.header.mode, s.header.uid, s.header.gid])
    ).toEqual([
      ['etc', 0, 0, 0],
      ['etc/shadow', 0, 0, 42],
      ['etc/link', 0o777, 65534, 65534]
    ]);
    // Whole seconds in the ustar header, the fraction in a pax record (tar-stream's reader does
    // not apply it; Go's archive/tar in the engine does).
    expect(seen[0].header.mtime.getTime()).toBe(1700000000000);
    expect(seen[0].header.pax).toMatchObject({ mtime: '1700000000.5' });
  });

  it('puts entries below a prefix, hard-link targets included', async () => {
    const path = await writeRpz(folder, 'prefix.rpz');
    const { tar: stream } = rootfsTar(readEntries(path), { prefix: 'rootfs/' });
    const seen = await readTar(stream);
    expect(seen[0].header).toMatchObject({
      name: 'rootfs/',
      type: 'directory'
    });
    expect(
      seen.find(s => s.header.name === 'rootfs/home/ana/copy.py')?.header
        .linkname
    ).toBe('rootfs/home/ana/script.py');
  });

  it('fails the tar stream with the reader error for a damaged package', async () => {
    const good = await buildRpz();
    const path = folder.write('cut.rpz', good.subarray(0, 700));
    const { tar: stream, done } = rootfsTar(readEntries(path));
    await expect(readTar(stream)).rejects.toBeInstanceOf(RpzError);
    await expect(done).rejects.toBeInstanceOf(RpzError);
  });

  it('waits for a slow consumer instead of buffering a whole file', async () => {
    // Random bytes: zeros would trip the reader's gzip-bomb guard.
    const big = randomBytes(32 * 1024 * 1024);
    const path = await writeRpz(folder, 'big.rpz', {
      data: [{ name: 'DATA/big.bin', content: big }]
    });
    const entries = readEntries(path);
    const { tar: stream, done } = rootfsTar(entries);
    await new Promise(resolve => setTimeout(resolve, 300));
    // Nobody reads: the producer must have stopped long before the 32 MiB body.
    expect(entries.progress.uncompressedBytes).toBeLessThan(8 * 1024 * 1024);
    let total = 0;
    for await (const chunk of Readable.from(stream as AsyncIterable<Buffer>)) {
      total += (chunk as Buffer).length;
    }
    await done;
    expect(total).toBeGreaterThan(big.length);
  });
});
