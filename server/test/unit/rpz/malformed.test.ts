/**
 * The corpus of malformed packages: each must fail with exactly this code and sentence, from
 * `readPackage` (metadata) or from `readEntries` (the data stream).
 */
import { gzipSync } from 'node:zlib';
import {
  RpzError,
  readEntries,
  readPackage,
  type ReadPackageOptions,
  type ReadEntriesOptions
} from '../../../src/rpz';
import {
  BASIC_CONFIG,
  buildRpz,
  paxHeader,
  rawMember,
  rawTar,
  tarStreamBuffer,
  tempFolder,
  type Member
} from '../../helpers/synthetic-rpz';

interface Case {
  name: string;
  build: () => Promise<Buffer>;
  /** Where the error must surface. */
  via: 'package' | 'entries';
  options?: ReadPackageOptions & ReadEntriesOptions;
  code: string;
  message: string;
}

const CONFIG = 'METADATA/config.yml';
const run0 = '- {argv: [a], binary: /a, workingdir: /, uid: 0, gid: 0}';

/** A v2 package whose DATA tar holds exactly these members (after a DATA directory). */
function withData(data: Member[]): () => Promise<Buffer> {
  return () => buildRpz({ data });
}

/** A v2 package whose DATA tar is these raw bytes. */
function withRawData(parts: Buffer[]): () => Promise<Buffer> {
  return () =>
    buildRpz({
      dataTar: rawTar([rawMember({ name: 'DATA', typeflag: '5' }), ...parts])
    });
}

/** A plain v2 package with a 1000-byte DATA.tar.gz of random-looking bytes, cut at `cut`. */
async function cutPlain(cut: number): Promise<Buffer> {
  const data = Buffer.alloc(1000, 7);
  return (await buildRpz({ dataTarGz: data, trace: null })).subarray(0, cut);
}

/** A gzip stream with a wrong CRC in its trailer. */
function badCrc(gz: Buffer): Buffer {
  const copy = Buffer.from(gz);
  copy[copy.length - 8] ^= 0xff;
  return copy;
}

const cases: Case[] = [
  {
    name: 'not a tar',
    build: async () =>
      Buffer.from('just some text, certainly not a tar archive\n'.repeat(20)),
    via: 'package',
    code: 'not-a-package',
    message:
      'Not a ReproZip package: the file is neither a tar nor a gzip-compressed tar (p.rpz)'
  },
  {
    name: 'empty file',
    build: async () => Buffer.alloc(0),
    via: 'package',
    code: 'not-a-package',
    message: 'Not a ReproZip package: the file is empty (p.rpz)'
  },
  {
    name: 'a ZIP file',
    build: async () =>
      Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(600)]),
    via: 'package',
    code: 'unsupported-zip',
    message:
      'This is a ZIP file; ReproZip packages in ZIP form are not supported (repack it with reprozip ≥ 1.0) (p.rpz)'
  },
  {
    name: 'gzip of something that is not a tar',
    build: async () => gzipSync(Buffer.from('hello '.repeat(200))),
    via: 'package',
    code: 'not-a-package',
    message:
      'Not a ReproZip package: the gzip data does not hold a tar archive (p.rpz)'
  },
  {
    name: 'truncated outer tar, inside DATA.tar.gz',
    build: () => cutPlain(900),
    via: 'package',
    code: 'truncated',
    message:
      'The package is truncated: member DATA.tar.gz declares 1000 bytes but the file ends before (p.rpz)'
  },
  {
    name: 'truncated outer tar, inside a header',
    build: () => cutPlain(512 + 1024 + 100),
    via: 'package',
    code: 'truncated',
    message:
      'The package is truncated: it ends in the middle of a tar header (p.rpz)'
  },
  {
    name: 'truncated gzip outer tar (v2, ReproZip 1.0.0–1.0.5)',
    build: async () => {
      const whole = await buildRpz({ layout: 'v2-gzip' });
      return whole.subarray(0, whole.length - 200);
    },
    via: 'package',
    code: 'truncated',
    message:
      'The package is truncated: the package stops in the middle of its gzip stream (p.rpz)'
  },
  {
    name: 'truncated v1 package',
    build: async () => {
      const whole = await buildRpz({ layout: 'v1' });
      return whole.subarray(0, whole.length - 100);
    },
    via: 'package',
    code: 'truncated',
    message:
      'The package is truncated: the package stops in the middle of its gzip stream (p.rpz)'
  },
  {
    name: 'truncated DATA.tar.gz',
    build: async () => {
      const gz = gzipSync(
        await tarStreamBuffer([{ name: 'DATA/f', content: 'x'.repeat(5000) }])
      );
      return buildRpz({ dataTarGz: gz.subarray(0, gz.length - 10) });
    },
    via: 'entries',
    code: 'truncated',
    message:
      'The package is truncated: DATA.tar.gz stops in the middle of its gzip stream (p.rpz)'
  },
  {
    name: 'corrupt gzip: DATA.tar.gz with a wrong CRC',
    build: async () =>
      buildRpz({
        dataTarGz: badCrc(
          gzipSync(await tarStreamBuffer([{ name: 'DATA/f', content: 'x' }]))
        )
      }),
    via: 'entries',
    code: 'corrupt-gzip',
    message: 'DATA.tar.gz is not valid gzip data (incorrect data check) (p.rpz)'
  },
  {
    name: 'corrupt gzip: DATA.tar.gz with garbage after the gzip header',
    build: () =>
      buildRpz({
        dataTarGz: Buffer.concat([
          Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]),
          Buffer.alloc(64, 0xff)
        ])
      }),
    via: 'entries',
    code: 'corrupt-gzip',
    message: 'DATA.tar.gz is not valid gzip data (invalid block type) (p.rpz)'
  },
  {
    name: 'corrupt gzip: outer gzip with a wrong CRC',
    build: async () => badCrc(await buildRpz({ layout: 'v2-gzip' })),
    via: 'package',
    code: 'corrupt-gzip',
    message: 'The package is not valid gzip data (incorrect data check) (p.rpz)'
  },
  {
    name: 'missing METADATA/version',
    build: () => buildRpz({ version: null }),
    via: 'package',
    code: 'missing-version',
    message: 'Not a ReproZip package: METADATA/version is missing (p.rpz)'
  },
  {
    name: 'wrong version number',
    build: () => buildRpz({ version: 'REPROZIP VERSION 3\n' }),
    via: 'package',
    code: 'bad-version',
    message:
      'Not a supported ReproZip package: METADATA/version says "REPROZIP VERSION 3", expected "REPROZIP VERSION 1" or "REPROZIP VERSION 2" (p.rpz)'
  },
  {
    name: 'version text that is not a ReproZip version',
    build: () => buildRpz({ version: 'hello\n' }),
    via: 'package',
    code: 'bad-version',
    message:
      'Not a supported ReproZip package: METADATA/version says "hello", expected "REPROZIP VERSION 1" or "REPROZIP VERSION 2" (p.rpz)'
  },
  {
    name: 'version 2 without DATA.tar.gz',
    build: () => buildRpz({ dataTarGz: null }),
    via: 'package',
    code: 'missing-data',
    message: 'The package says it is version 2 but has no DATA.tar.gz (p.rpz)'
  },
  {
    name: 'missing config',
    build: () => buildRpz({ config: null }),
    via: 'package',
    code: 'missing-config',
    message: 'Not a ReproZip package: METADATA/config.yml is missing (p.rpz)'
  },
  {
    name: 'invalid YAML',
    build: () =>
      buildRpz({ config: 'version: "0.8"\nruns: [\n  {argv: [a]\n' }),
    via: 'package',
    code: 'invalid-yaml',
    message:
      'METADATA/config.yml is not valid YAML (line 4): Flow map in block collection must be sufficiently indented and end with a } (p.rpz)'
  },
  {
    name: 'config that is a list',
    build: () => buildRpz({ config: '- runs\n- files\n' }),
    via: 'package',
    code: 'invalid-config',
    message:
      'METADATA/config.yml is invalid: the top level should be a mapping, but it is a list (p.rpz)'
  },
  {
    name: 'config without runs',
    build: () => buildRpz({ config: 'version: "0.8"\nother_files: []\n' }),
    via: 'package',
    code: 'invalid-config',
    message: 'METADATA/config.yml is invalid: it has no runs (p.rpz)'
  },
  {
    name: 'run without argv',
    build: () =>
      buildRpz({
        config:
          'version: "0.8"\nruns:\n- {binary: /a, workingdir: /, uid: 0, gid: 0}\n'
      }),
    via: 'package',
    code: 'invalid-config',
    message: 'METADATA/config.yml is invalid: run 0 has no argv (p.rpz)'
  },
  {
    name: 'negative uid',
    build: () =>
      buildRpz({
        config:
          'version: "0.8"\nruns:\n- {argv: [a], binary: /a, workingdir: /, uid: -1, gid: 0}\n'
      }),
    via: 'package',
    code: 'invalid-config',
    message:
      'METADATA/config.yml is invalid: run 0 has a negative uid (-1) (p.rpz)'
  },
  {
    name: 'uid that is not a number',
    build: () =>
      buildRpz({
        config:
          'version: "0.8"\nruns:\n- {argv: [a], binary: /a, workingdir: /, uid: root, gid: 0}\n'
      }),
    via: 'package',
    code: 'invalid-config',
    message:
      'METADATA/config.yml is invalid: run 0 uid should be an integer, not "root" (p.rpz)'
  },
  {
    name: 'argv that is a mapping',
    build: () =>
      buildRpz({
        config:
          'version: "0.8"\nruns:\n- {argv: {a: b}, binary: /a, workingdir: /, uid: 0, gid: 0}\n'
      }),
    via: 'package',
    code: 'invalid-config',
    message:
      'METADATA/config.yml is invalid: run 0 argv should be a list, not a mapping (p.rpz)'
  },
  {
    name: 'a pre-pack config (additional_patterns)',
    build: () =>
      buildRpz({
        config: `version: "0.8"\nruns:\n${run0}\nadditional_patterns: [/etc/**]\n`
      }),
    via: 'package',
    code: 'invalid-config',
    message:
      'METADATA/config.yml is invalid: it still has additional_patterns, so it is a configuration for packing, not a packed one (p.rpz)'
  },
  {
    name: 'config over the size cap',
    build: () => buildRpz({ config: BASIC_CONFIG + '#'.repeat(2000) }),
    via: 'package',
    options: { maxConfigBytes: 1024 },
    code: 'member-too-large',
    message: `${CONFIG} is ${BASIC_CONFIG.length + 2000} bytes, over the 1024-byte limit for package metadata (p.rpz)`
  },
  {
    name: 'config twice',
    build: () => buildRpz({ extra: [{ name: CONFIG, content: BASIC_CONFIG }] }),
    via: 'package',
    code: 'duplicate-entry',
    message:
      'The package holds METADATA/config.yml twice, so it is ambiguous (p.rpz)'
  },
  {
    name: 'METADATA/version that is a directory',
    build: () =>
      buildRpz({
        version: null,
        extra: [{ name: 'METADATA/version', type: 'directory' }]
      }),
    via: 'package',
    code: 'corrupt-tar',
    message: 'METADATA/version is not a regular file in the package (p.rpz)'
  },
  {
    name: 'bad checksum in a later outer header',
    build: async () => {
      const copy = await cutPlain(1 << 20);
      copy[512 + 1024 + 10] ^= 1; // a bit of METADATA/version's header, after the 1000-byte DATA.tar.gz
      return copy;
    },
    via: 'package',
    code: 'corrupt-tar',
    message: 'A tar header has a bad checksum (the archive is corrupt) (p.rpz)'
  },
  {
    name: '../ in a member name',
    build: withData([{ name: 'DATA/../etc/passwd', content: 'root::0:0' }]),
    via: 'entries',
    code: 'unsafe-path',
    message:
      'The package has a member named DATA/../etc/passwd, which leaves the package root (p.rpz)'
  },
  {
    name: '../ outside DATA/',
    build: withRawData([rawMember({ name: '../../etc/cron.d/x' }, 'x')]),
    via: 'entries',
    code: 'unsafe-path',
    message:
      'The package has a member named ../../etc/cron.d/x, which leaves the package root (p.rpz)'
  },
  {
    name: 'absolute member name',
    build: withRawData([rawMember({ name: '/etc/passwd' }, 'x')]),
    via: 'entries',
    code: 'unsafe-path',
    message:
      'The package has a member named the absolute path /etc/passwd; only paths inside DATA/ are allowed (p.rpz)'
  },
  {
    name: 'hard link pointing outside the root',
    build: withData([
      { name: 'DATA/h', type: 'link', linkname: 'DATA/../../etc/shadow' }
    ]),
    via: 'entries',
    code: 'unsafe-link',
    message:
      'A hard link in the package points to DATA/../../etc/shadow, which leaves the package root (p.rpz)'
  },
  {
    name: 'hard link to an absolute path',
    build: withData([
      { name: 'DATA/h', type: 'link', linkname: '/etc/shadow' }
    ]),
    via: 'entries',
    code: 'unsafe-link',
    message:
      'A hard link in the package points to the absolute path /etc/shadow; only paths inside DATA/ are allowed (p.rpz)'
  },
  {
    name: 'hard link to a file not (yet) in the package',
    build: withData([
      { name: 'DATA/h', type: 'link', linkname: 'DATA/later' },
      { name: 'DATA/later', content: 'x' }
    ]),
    via: 'entries',
    code: 'unsafe-link',
    message:
      'The hard link DATA/h points to DATA/later, which is not an earlier file of the package (p.rpz)'
  },
  {
    name: 'hard link to a directory',
    build: withData([
      { name: 'DATA/d', type: 'directory' },
      { name: 'DATA/h', type: 'link', linkname: 'DATA/d' }
    ]),
    via: 'entries',
    code: 'unsafe-link',
    message:
      'The hard link DATA/h points to DATA/d, which is not an earlier file of the package (p.rpz)'
  },
  {
    name: 'symlink out of the root, then a file written through it',
    build: withData([
      { name: 'DATA/etc', type: 'symlink', linkname: '/etc' },
      { name: 'DATA/etc/cron.d/evil', content: '* * * * * root sh' }
    ]),
    via: 'entries',
    code: 'path-through-symlink',
    message:
      'The package has an entry DATA/etc/cron.d/evil below the symlink DATA/etc, which could write outside the root (p.rpz)'
  },
  {
    name: 'symlink chain (relative ../ link, then a link to it), then a directory through it',
    build: withData([
      { name: 'DATA/a', type: 'directory' },
      { name: 'DATA/a/up', type: 'symlink', linkname: '../../../..' },
      { name: 'DATA/b', type: 'symlink', linkname: 'a/up' },
      { name: 'DATA/b/root', type: 'directory' }
    ]),
    via: 'entries',
    code: 'path-through-symlink',
    message:
      'The package has an entry DATA/b/root below the symlink DATA/b, which could write outside the root (p.rpz)'
  },
  {
    name: 'hard link whose target goes through a symlink',
    build: withData([
      { name: 'DATA/s', type: 'symlink', linkname: '/etc' },
      { name: 'DATA/h', type: 'link', linkname: 'DATA/s/shadow' }
    ]),
    via: 'entries',
    code: 'unsafe-link',
    message:
      'The hard link DATA/h points to DATA/s/shadow, which is not an earlier file of the package (p.rpz)'
  },
  {
    name: 'duplicate entries',
    build: withData([
      { name: 'DATA/f', content: 'first' },
      { name: 'DATA/./f', content: 'second' }
    ]),
    via: 'entries',
    code: 'duplicate-entry',
    message: 'The package has two entries for DATA/./f (p.rpz)'
  },
  {
    name: 'a symlink replaced by a directory of the same name',
    build: withData([
      { name: 'DATA/lib', type: 'symlink', linkname: '/' },
      { name: 'DATA/lib', type: 'directory' }
    ]),
    via: 'entries',
    code: 'duplicate-entry',
    message: 'The package has two entries for DATA/lib (p.rpz)'
  },
  {
    name: 'huge declared size with a tiny body',
    build: withRawData([
      rawMember({ name: 'DATA/huge', size: 2 ** 50, base256Size: true }, 'tiny')
    ]),
    via: 'entries',
    code: 'truncated',
    message:
      'The package is truncated: member DATA/huge ends before its declared size (p.rpz)'
  },
  {
    name: 'declared size beyond what a number can hold',
    build: async () => {
      const header = rawMember({ name: 'DATA/x', size: 1 });
      header.fill(0xff, 125, 136);
      header[124] = 0x80;
      // Fix the checksum after editing the size field.
      header.fill(0x20, 148, 156);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += header[i];
      header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
      return buildRpz({ dataTar: rawTar([header]) });
    },
    via: 'entries',
    code: 'corrupt-tar',
    message: 'A tar header has a size too large to represent (p.rpz)'
  },
  {
    name: 'gzip bomb (200 MiB of zeros in 200 KiB), default limits',
    build: async () =>
      buildRpz({ dataTarGz: gzipSync(Buffer.alloc(200 * 1024 * 1024)) }),
    via: 'entries',
    code: 'size-limit',
    message:
      'DATA.tar.gz expands more than 500 times (a gzip bomb?), the configured limit (maxRatio); refusing to continue (p.rpz)'
  },
  {
    name: 'data over the configured size limit',
    build: withData([{ name: 'DATA/f', content: Buffer.alloc(300 * 1024, 1) }]),
    via: 'entries',
    options: { limits: { maxBytes: 256 * 1024 } },
    code: 'size-limit',
    message:
      'DATA.tar.gz expands to more than 262144 bytes, the configured limit (maxBytes); refusing to continue (p.rpz)'
  },
  {
    name: 'member name that is not UTF-8',
    build: withRawData([
      rawMember(
        { name: Buffer.concat([Buffer.from('DATA/caf'), Buffer.from([0xe9])]) },
        'x'
      )
    ]),
    via: 'entries',
    code: 'non-utf8-name',
    message:
      'A member name in the package is not valid UTF-8 ("DATA/caf\\xe9"); such names are not supported (p.rpz)'
  },
  {
    name: 'pax path with hdrcharset=BINARY that is not UTF-8',
    build: withRawData([
      paxHeader([
        ['hdrcharset', 'BINARY'],
        [
          'path',
          Buffer.concat([Buffer.from('DATA/'), Buffer.from([0xff, 0xfe])])
        ]
      ]),
      rawMember({ name: 'x' }, 'x')
    ]),
    via: 'entries',
    code: 'non-utf8-name',
    message:
      'A member name in the package is not valid UTF-8 ("DATA/\\xff\\xfe"); such names are not supported (p.rpz)'
  },
  {
    name: 'malformed pax header',
    build: withRawData([
      rawMember({ name: 'PaxHeader', typeflag: 'x' }, '30 path=short\n'),
      rawMember({ name: 'x' }, 'x')
    ]),
    via: 'entries',
    code: 'corrupt-tar',
    message: 'A pax extended header is malformed (p.rpz)'
  },
  {
    name: 'symlink with an empty target',
    build: withRawData([rawMember({ name: 'DATA/l', typeflag: '2' })]),
    via: 'entries',
    code: 'corrupt-tar',
    message: 'The symlink DATA/l has an empty target (p.rpz)'
  }
];

let folder: ReturnType<typeof tempFolder>;
beforeEach(() => {
  folder = tempFolder();
});
afterEach(() => folder.cleanup());

async function failure(path: string, c: Case): Promise<unknown> {
  try {
    if (c.via === 'package') {
      await readPackage(path, c.options);
    } else {
      for await (const entry of readEntries(path, c.options)) {
        if (entry.type === 'file') {
          for await (const chunk of entry.body) {
            void chunk;
          }
        }
      }
    }
  } catch (error) {
    return error;
  }
  return null;
}

describe('malformed packages', () => {
  it('has a corpus of at least 25 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases.map(c => [c.name, c] as const))('%s', async (_name, c) => {
    const path = folder.write('p.rpz', await c.build());
    const error = await failure(path, c);
    expect(error).toBeInstanceOf(RpzError);
    expect({
      code: (error as RpzError).code,
      message: (error as RpzError).message
    }).toEqual({ code: c.code, message: c.message });
  });
});
