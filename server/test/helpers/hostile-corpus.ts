/**
 * The hostile corpus: packages crafted to break, hang or escape the package reader, each with the
 * outcome the reader must produce. Data only (no jest): `test/unit/rpz/hostile-corpus.test.ts`
 * runs every case against the reader with a deadline, and the server tests upload them.
 *
 * `expect.message`, when a string, is the reader's sentence without the package-name suffix: the
 * reader appends ` (<file name>)`, so for a file named `p.rpz` the full message is
 * `${message} (p.rpz)`. `options` (optional) are reader options a case needs (a smaller limit);
 * a consumer that cannot pass options (an upload) should skip cases that have them.
 */
import { gzipSync } from 'node:zlib';
import type {
  ReadEntriesOptions,
  ReadPackageOptions,
  RpzErrorCode
} from '../../src/rpz';
import {
  BASIC_CONFIG,
  basicData,
  buildRpz,
  gnuLong,
  patchHeader,
  rawHeader,
  paxHeader,
  rawMember,
  rawTar,
  tarStreamBuffer,
  traceWith,
  type Member
} from './synthetic-rpz';

/** One hostile package and what the reader must do with it. */
export interface HostileCase {
  /** Unique, kebab-case. */
  name: string;
  /** One sentence: what it tries. */
  attack: string;
  /** The whole .rpz bytes (each under 2 MiB). */
  build: () => Promise<Buffer>;
  /** Where the outcome shows: readPackage (metadata) or readEntries (the data stream). */
  via: 'package' | 'entries';
  expect:
    | { code: RpzErrorCode; message?: string | RegExp }
    | { warning: RegExp }
    | { ok: true };
  /** Reader options the case needs (e.g. a small limit); absent for the defaults. */
  options?: ReadPackageOptions & ReadEntriesOptions;
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

/** The cases that were `malformed.test.ts`: damage and escapes, each with its exact sentence. */
const MALFORMED: HostileCase[] = [
  {
    name: 'not-a-tar',
    attack: 'Not a tar.',
    build: async () =>
      Buffer.from('just some text, certainly not a tar archive\n'.repeat(20)),
    via: 'package',
    expect: {
      code: 'not-a-package',
      message:
        'Not a ReproZip package: the file is neither a tar nor a gzip-compressed tar'
    }
  },
  {
    name: 'empty-file',
    attack: 'Empty file.',
    build: async () => Buffer.alloc(0),
    via: 'package',
    expect: {
      code: 'not-a-package',
      message: 'Not a ReproZip package: the file is empty'
    }
  },
  {
    name: 'a-zip-file',
    attack: 'A ZIP file.',
    build: async () =>
      Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(600)]),
    via: 'package',
    expect: {
      code: 'unsupported-zip',
      message:
        'This is a ZIP file; ReproZip packages in ZIP form are not supported (repack it with reprozip ≥ 1.0)'
    }
  },
  {
    name: 'gzip-of-something-that-is-not-a-tar',
    attack: 'Gzip of something that is not a tar.',
    build: async () => gzipSync(Buffer.from('hello '.repeat(200))),
    via: 'package',
    expect: {
      code: 'not-a-package',
      message:
        'Not a ReproZip package: the gzip data does not hold a tar archive'
    }
  },
  {
    name: 'truncated-outer-tar-inside-data-tar-gz',
    attack: 'Truncated outer tar, inside DATA.tar.gz.',
    build: () => cutPlain(900),
    via: 'package',
    expect: {
      code: 'truncated',
      message:
        'The package is truncated: member DATA.tar.gz declares 1000 bytes but the file ends before'
    }
  },
  {
    name: 'truncated-outer-tar-inside-a-header',
    attack: 'Truncated outer tar, inside a header.',
    build: () => cutPlain(512 + 1024 + 100),
    via: 'package',
    expect: {
      code: 'truncated',
      message: 'The package is truncated: it ends in the middle of a tar header'
    }
  },
  {
    name: 'truncated-gzip-outer-tar-v2-reprozip-1-0-0-1-0-5',
    attack: 'Truncated gzip outer tar (v2, ReproZip 1.0.0–1.0.5).',
    build: async () => {
      const whole = await buildRpz({ layout: 'v2-gzip' });
      return whole.subarray(0, whole.length - 200);
    },
    via: 'package',
    expect: {
      code: 'truncated',
      message:
        'The package is truncated: the package stops in the middle of its gzip stream'
    }
  },
  {
    name: 'truncated-v1-package',
    attack: 'Truncated v1 package.',
    build: async () => {
      const whole = await buildRpz({ layout: 'v1' });
      return whole.subarray(0, whole.length - 100);
    },
    via: 'package',
    expect: {
      code: 'truncated',
      message:
        'The package is truncated: the package stops in the middle of its gzip stream'
    }
  },
  {
    name: 'truncated-data-tar-gz',
    attack: 'Truncated DATA.tar.gz.',
    build: async () => {
      const gz = gzipSync(
        await tarStreamBuffer([{ name: 'DATA/f', content: 'x'.repeat(5000) }])
      );
      return buildRpz({ dataTarGz: gz.subarray(0, gz.length - 10) });
    },
    via: 'entries',
    expect: {
      code: 'truncated',
      message:
        'The package is truncated: DATA.tar.gz stops in the middle of its gzip stream'
    }
  },
  {
    name: 'corrupt-gzip-data-tar-gz-with-a-wrong-crc',
    attack: 'Corrupt gzip: DATA.tar.gz with a wrong CRC.',
    build: async () =>
      buildRpz({
        dataTarGz: badCrc(
          gzipSync(await tarStreamBuffer([{ name: 'DATA/f', content: 'x' }]))
        )
      }),
    via: 'entries',
    expect: {
      code: 'corrupt-gzip',
      message: 'DATA.tar.gz is not valid gzip data (incorrect data check)'
    }
  },
  {
    name: 'corrupt-gzip-data-tar-gz-with-garbage-after-the-gzip-header',
    attack: 'Corrupt gzip: DATA.tar.gz with garbage after the gzip header.',
    build: () =>
      buildRpz({
        dataTarGz: Buffer.concat([
          Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]),
          Buffer.alloc(64, 0xff)
        ])
      }),
    via: 'entries',
    expect: {
      code: 'corrupt-gzip',
      message: 'DATA.tar.gz is not valid gzip data (invalid block type)'
    }
  },
  {
    name: 'corrupt-gzip-outer-gzip-with-a-wrong-crc',
    attack: 'Corrupt gzip: outer gzip with a wrong CRC.',
    build: async () => badCrc(await buildRpz({ layout: 'v2-gzip' })),
    via: 'package',
    expect: {
      code: 'corrupt-gzip',
      message: 'The package is not valid gzip data (incorrect data check)'
    }
  },
  {
    name: 'missing-metadata-version',
    attack: 'Missing METADATA/version.',
    build: () => buildRpz({ version: null }),
    via: 'package',
    expect: {
      code: 'missing-version',
      message: 'Not a ReproZip package: METADATA/version is missing'
    }
  },
  {
    name: 'wrong-version-number',
    attack: 'Wrong version number.',
    build: () => buildRpz({ version: 'REPROZIP VERSION 3\n' }),
    via: 'package',
    expect: {
      code: 'bad-version',
      message:
        'Not a supported ReproZip package: METADATA/version says "REPROZIP VERSION 3", expected "REPROZIP VERSION 1" or "REPROZIP VERSION 2"'
    }
  },
  {
    name: 'version-text-that-is-not-a-reprozip-version',
    attack: 'Version text that is not a ReproZip version.',
    build: () => buildRpz({ version: 'hello\n' }),
    via: 'package',
    expect: {
      code: 'bad-version',
      message:
        'Not a supported ReproZip package: METADATA/version says "hello", expected "REPROZIP VERSION 1" or "REPROZIP VERSION 2"'
    }
  },
  {
    name: 'version-2-without-data-tar-gz',
    attack: 'Version 2 without DATA.tar.gz.',
    build: () => buildRpz({ dataTarGz: null }),
    via: 'package',
    expect: {
      code: 'missing-data',
      message: 'The package says it is version 2 but has no DATA.tar.gz'
    }
  },
  {
    name: 'missing-config',
    attack: 'Missing config.',
    build: () => buildRpz({ config: null }),
    via: 'package',
    expect: {
      code: 'missing-config',
      message: 'Not a ReproZip package: METADATA/config.yml is missing'
    }
  },
  {
    name: 'invalid-yaml',
    attack: 'Invalid YAML.',
    build: () =>
      buildRpz({ config: 'version: "0.8"\nruns: [\n  {argv: [a]\n' }),
    via: 'package',
    expect: {
      code: 'invalid-yaml',
      message:
        'METADATA/config.yml is not valid YAML (line 4): Flow map in block collection must be sufficiently indented and end with a }'
    }
  },
  {
    name: 'config-that-is-a-list',
    attack: 'Config that is a list.',
    build: () => buildRpz({ config: '- runs\n- files\n' }),
    via: 'package',
    expect: {
      code: 'invalid-config',
      message:
        'METADATA/config.yml is invalid: the top level should be a mapping, but it is a list'
    }
  },
  {
    name: 'config-without-runs',
    attack: 'Config without runs.',
    build: () => buildRpz({ config: 'version: "0.8"\nother_files: []\n' }),
    via: 'package',
    expect: {
      code: 'invalid-config',
      message: 'METADATA/config.yml is invalid: it has no runs'
    }
  },
  {
    name: 'run-without-argv',
    attack: 'Run without argv.',
    build: () =>
      buildRpz({
        config:
          'version: "0.8"\nruns:\n- {binary: /a, workingdir: /, uid: 0, gid: 0}\n'
      }),
    via: 'package',
    expect: {
      code: 'invalid-config',
      message: 'METADATA/config.yml is invalid: run 0 has no argv'
    }
  },
  {
    name: 'negative-uid',
    attack: 'Negative uid.',
    build: () =>
      buildRpz({
        config:
          'version: "0.8"\nruns:\n- {argv: [a], binary: /a, workingdir: /, uid: -1, gid: 0}\n'
      }),
    via: 'package',
    expect: {
      code: 'invalid-config',
      message: 'METADATA/config.yml is invalid: run 0 has a negative uid (-1)'
    }
  },
  {
    name: 'uid-that-is-not-a-number',
    attack: 'Uid that is not a number.',
    build: () =>
      buildRpz({
        config:
          'version: "0.8"\nruns:\n- {argv: [a], binary: /a, workingdir: /, uid: root, gid: 0}\n'
      }),
    via: 'package',
    expect: {
      code: 'invalid-config',
      message:
        'METADATA/config.yml is invalid: run 0 uid should be an integer, not "root"'
    }
  },
  {
    name: 'argv-that-is-a-mapping',
    attack: 'Argv that is a mapping.',
    build: () =>
      buildRpz({
        config:
          'version: "0.8"\nruns:\n- {argv: {a: b}, binary: /a, workingdir: /, uid: 0, gid: 0}\n'
      }),
    via: 'package',
    expect: {
      code: 'invalid-config',
      message:
        'METADATA/config.yml is invalid: run 0 argv should be a list, not a mapping'
    }
  },
  {
    name: 'a-pre-pack-config-additional-patterns',
    attack: 'A pre-pack config (additional_patterns).',
    build: () =>
      buildRpz({
        config: `version: "0.8"\nruns:\n${run0}\nadditional_patterns: [/etc/**]\n`
      }),
    via: 'package',
    expect: {
      code: 'invalid-config',
      message:
        'METADATA/config.yml is invalid: it still has additional_patterns, so it is a configuration for packing, not a packed one'
    }
  },
  {
    name: 'config-over-the-size-cap',
    attack: 'Config over the size cap.',
    build: () => buildRpz({ config: BASIC_CONFIG + '#'.repeat(2000) }),
    via: 'package',
    options: { maxConfigBytes: 1024 },
    expect: {
      code: 'member-too-large',
      message: `${CONFIG} is ${BASIC_CONFIG.length + 2000} bytes, over the 1024-byte limit for package metadata`
    }
  },
  {
    name: 'config-twice',
    attack: 'Config twice.',
    build: () => buildRpz({ extra: [{ name: CONFIG, content: BASIC_CONFIG }] }),
    via: 'package',
    expect: {
      code: 'duplicate-entry',
      message: 'The package holds METADATA/config.yml twice, so it is ambiguous'
    }
  },
  {
    name: 'metadata-version-that-is-a-directory',
    attack: 'METADATA/version that is a directory.',
    build: () =>
      buildRpz({
        version: null,
        extra: [{ name: 'METADATA/version', type: 'directory' }]
      }),
    via: 'package',
    expect: {
      code: 'corrupt-tar',
      message: 'METADATA/version is not a regular file in the package'
    }
  },
  {
    name: 'bad-checksum-in-a-later-outer-header',
    attack: 'Bad checksum in a later outer header.',
    build: async () => {
      const copy = await cutPlain(1 << 20);
      copy[512 + 1024 + 10] ^= 1; // a bit of METADATA/version's header, after the 1000-byte DATA.tar.gz
      return copy;
    },
    via: 'package',
    expect: {
      code: 'corrupt-tar',
      message: 'A tar header has a bad checksum (the archive is corrupt)'
    }
  },
  {
    name: 'dotdot-in-a-member-name',
    attack: '../ in a member name.',
    build: withData([{ name: 'DATA/../etc/passwd', content: 'root::0:0' }]),
    via: 'entries',
    expect: {
      code: 'unsafe-path',
      message:
        'The package has a member named DATA/../etc/passwd, which leaves the package root'
    }
  },
  {
    name: 'dotdot-outside-data',
    attack: '../ outside DATA/.',
    build: withRawData([rawMember({ name: '../../etc/cron.d/x' }, 'x')]),
    via: 'entries',
    expect: {
      code: 'unsafe-path',
      message:
        'The package has a member named ../../etc/cron.d/x, which leaves the package root'
    }
  },
  {
    name: 'absolute-member-name',
    attack: 'Absolute member name.',
    build: withRawData([rawMember({ name: '/etc/passwd' }, 'x')]),
    via: 'entries',
    expect: {
      code: 'unsafe-path',
      message:
        'The package has a member named the absolute path /etc/passwd; only paths inside DATA/ are allowed'
    }
  },
  {
    name: 'hard-link-pointing-outside-the-root',
    attack: 'Hard link pointing outside the root.',
    build: withData([
      { name: 'DATA/h', type: 'link', linkname: 'DATA/../../etc/shadow' }
    ]),
    via: 'entries',
    expect: {
      code: 'unsafe-link',
      message:
        'A hard link in the package points to DATA/../../etc/shadow, which leaves the package root'
    }
  },
  {
    name: 'hard-link-to-an-absolute-path',
    attack: 'Hard link to an absolute path.',
    build: withData([
      { name: 'DATA/h', type: 'link', linkname: '/etc/shadow' }
    ]),
    via: 'entries',
    expect: {
      code: 'unsafe-link',
      message:
        'A hard link in the package points to the absolute path /etc/shadow; only paths inside DATA/ are allowed'
    }
  },
  {
    name: 'hard-link-to-a-file-not-yet-in-the-package',
    attack: 'Hard link to a file not (yet) in the package.',
    build: withData([
      { name: 'DATA/h', type: 'link', linkname: 'DATA/later' },
      { name: 'DATA/later', content: 'x' }
    ]),
    via: 'entries',
    expect: {
      code: 'unsafe-link',
      message:
        'The hard link DATA/h points to DATA/later, which is not an earlier file of the package'
    }
  },
  {
    name: 'hard-link-to-a-directory',
    attack: 'Hard link to a directory.',
    build: withData([
      { name: 'DATA/d', type: 'directory' },
      { name: 'DATA/h', type: 'link', linkname: 'DATA/d' }
    ]),
    via: 'entries',
    expect: {
      code: 'unsafe-link',
      message:
        'The hard link DATA/h points to DATA/d, which is not an earlier file of the package'
    }
  },
  {
    name: 'symlink-out-of-the-root-then-a-file-written-through-it',
    attack: 'Symlink out of the root, then a file written through it.',
    build: withData([
      { name: 'DATA/etc', type: 'symlink', linkname: '/etc' },
      { name: 'DATA/etc/cron.d/evil', content: '* * * * * root sh' }
    ]),
    via: 'entries',
    expect: {
      code: 'path-through-symlink',
      message:
        'The package has an entry DATA/etc/cron.d/evil below the symlink DATA/etc, which could write outside the root'
    }
  },
  {
    name: 'symlink-chain-then-a-directory-through-it',
    attack:
      'Symlink chain (relative ../ link, then a link to it), then a directory through it.',
    build: withData([
      { name: 'DATA/a', type: 'directory' },
      { name: 'DATA/a/up', type: 'symlink', linkname: '../../../..' },
      { name: 'DATA/b', type: 'symlink', linkname: 'a/up' },
      { name: 'DATA/b/root', type: 'directory' }
    ]),
    via: 'entries',
    expect: {
      code: 'path-through-symlink',
      message:
        'The package has an entry DATA/b/root below the symlink DATA/b, which could write outside the root'
    }
  },
  {
    name: 'hard-link-whose-target-goes-through-a-symlink',
    attack: 'Hard link whose target goes through a symlink.',
    build: withData([
      { name: 'DATA/s', type: 'symlink', linkname: '/etc' },
      { name: 'DATA/h', type: 'link', linkname: 'DATA/s/shadow' }
    ]),
    via: 'entries',
    expect: {
      code: 'unsafe-link',
      message:
        'The hard link DATA/h points to DATA/s/shadow, which is not an earlier file of the package'
    }
  },
  {
    name: 'duplicate-entries',
    attack: 'Duplicate entries.',
    build: withData([
      { name: 'DATA/f', content: 'first' },
      { name: 'DATA/./f', content: 'second' }
    ]),
    via: 'entries',
    expect: {
      code: 'duplicate-entry',
      message: 'The package has two entries for DATA/./f'
    }
  },
  {
    name: 'a-symlink-replaced-by-a-directory-of-the-same-name',
    attack: 'A symlink replaced by a directory of the same name.',
    build: withData([
      { name: 'DATA/lib', type: 'symlink', linkname: '/' },
      { name: 'DATA/lib', type: 'directory' }
    ]),
    via: 'entries',
    expect: {
      code: 'duplicate-entry',
      message: 'The package has two entries for DATA/lib'
    }
  },
  {
    name: 'huge-declared-size-with-a-tiny-body',
    attack: 'Huge declared size with a tiny body.',
    build: withRawData([
      rawMember({ name: 'DATA/huge', size: 2 ** 50, base256Size: true }, 'tiny')
    ]),
    via: 'entries',
    expect: {
      code: 'truncated',
      message:
        'The package is truncated: member DATA/huge ends before its declared size'
    }
  },
  {
    name: 'declared-size-beyond-what-a-number-can-hold',
    attack: 'Declared size beyond what a number can hold.',
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
    expect: {
      code: 'corrupt-tar',
      message: 'A tar header has a size too large to represent'
    }
  },
  {
    name: 'gzip-bomb-200-mib-of-zeros-in-200-kib-default-limits',
    attack: 'Gzip bomb (200 MiB of zeros in 200 KiB), default limits.',
    build: async () =>
      buildRpz({ dataTarGz: gzipSync(Buffer.alloc(200 * 1024 * 1024)) }),
    via: 'entries',
    expect: {
      code: 'size-limit',
      message:
        'DATA.tar.gz expands more than 500 times (a gzip bomb?), the configured limit (maxRatio); refusing to continue'
    }
  },
  {
    name: 'data-over-the-configured-size-limit',
    attack: 'Data over the configured size limit.',
    build: withData([{ name: 'DATA/f', content: Buffer.alloc(300 * 1024, 1) }]),
    via: 'entries',
    options: { limits: { maxBytes: 256 * 1024 } },
    expect: {
      code: 'size-limit',
      message:
        'DATA.tar.gz expands to more than 262144 bytes, the configured limit (maxBytes); refusing to continue'
    }
  },
  {
    name: 'member-name-that-is-not-utf-8',
    attack: 'Member name that is not UTF-8.',
    build: withRawData([
      rawMember(
        { name: Buffer.concat([Buffer.from('DATA/caf'), Buffer.from([0xe9])]) },
        'x'
      )
    ]),
    via: 'entries',
    expect: {
      code: 'non-utf8-name',
      message:
        'A member name in the package is not valid UTF-8 ("DATA/caf\\xe9"); such names are not supported'
    }
  },
  {
    name: 'pax-path-with-hdrcharset-binary-that-is-not-utf-8',
    attack: 'Pax path with hdrcharset=BINARY that is not UTF-8.',
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
    expect: {
      code: 'non-utf8-name',
      message:
        'A member name in the package is not valid UTF-8 ("DATA/\\xff\\xfe"); such names are not supported'
    }
  },
  {
    name: 'malformed-pax-header',
    attack: 'Malformed pax header.',
    build: withRawData([
      rawMember({ name: 'PaxHeader', typeflag: 'x' }, '30 path=short\n'),
      rawMember({ name: 'x' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message: 'A pax extended header is malformed'
    }
  },
  {
    name: 'symlink-with-an-empty-target',
    attack: 'Symlink with an empty target.',
    build: withRawData([rawMember({ name: 'DATA/l', typeflag: '2' })]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message: 'The symlink DATA/l has an empty target'
    }
  }
];

const VERSION = 'REPROZIP VERSION 2\n';
const VERSION_MEMBER = 'METADATA/version';
const MAX_SAFE = '9007199254740991';

/** A valid DATA.tar.gz (the basic data). */
async function dataTarGz(): Promise<Buffer> {
  return gzipSync(
    await tarStreamBuffer([{ name: 'DATA', type: 'directory' }, ...basicData()])
  );
}

/**
 * A v2 package as raw outer tar bytes: DATA.tar.gz, then `beforeVersion` (hostile headers that
 * apply to METADATA/version), the version, the config, then `after`. `gzip` wraps it whole (the
 * layout of ReproZip 1.0.0–1.0.5).
 */
async function rawOuter(
  opts: {
    beforeVersion?: Buffer[];
    after?: Buffer[];
    gzip?: boolean;
    config?: string;
  } = {}
): Promise<Buffer> {
  const outer = rawTar([
    rawMember({ name: 'DATA.tar.gz' }, await dataTarGz()),
    ...(opts.beforeVersion ?? []),
    rawMember({ name: VERSION_MEMBER }, VERSION),
    rawMember({ name: CONFIG }, opts.config ?? BASIC_CONFIG),
    ...(opts.after ?? [])
  ]);
  return opts.gzip === true ? gzipSync(outer) : outer;
}

/** The sentence for a pax number that is not acceptable. */
function badPax(member: string, key: string, shown: string): string {
  const rule =
    key === 'mtime'
      ? 'a number of seconds'
      : `a whole number from 0 to ${MAX_SAFE}`;
  return `The pax header of ${member} has an invalid ${key} "${shown}": it must be ${rule}`;
}

/** A pax `size` record with this value on METADATA/version, in a plain outer tar. */
function paxSizeOnVersion(
  name: string,
  value: string,
  shown = value
): HostileCase {
  return {
    name,
    attack: `A pax size of "${value}" on METADATA/version, to make the reader loop or misread the version.`,
    build: () => rawOuter({ beforeVersion: [paxHeader([['size', value]])] }),
    via: 'package',
    expect: {
      code: 'bad-number',
      message: badPax(VERSION_MEMBER, 'size', shown)
    }
  };
}

/** A pax record with this key and value on a DATA member. */
function paxOnData(
  name: string,
  key: string,
  value: string,
  shown = value
): HostileCase {
  return {
    name,
    attack: `A pax ${key} of "${value}" on a DATA member.`,
    build: withRawData([
      paxHeader([[key, value]]),
      rawMember({ name: 'DATA/f' }, 'x')
    ]),
    via: 'entries',
    expect: { code: 'bad-number', message: badPax('DATA/f', key, shown) }
  };
}

/** Numeric tar and pax fields: whole numbers in range, or a refusal naming field and member. */
const NUMBERS: HostileCase[] = [
  paxSizeOnVersion('pax-size-fraction-on-version', '1.5'),
  {
    name: 'pax-size-fraction-on-version-in-gzip-outer',
    attack:
      'A pax size of 1.5 on METADATA/version inside a gzip outer archive: the streaming parser used to ask for half a byte forever.',
    build: () =>
      rawOuter({ beforeVersion: [paxHeader([['size', '1.5']])], gzip: true }),
    via: 'package',
    expect: {
      code: 'bad-number',
      message: badPax(VERSION_MEMBER, 'size', '1.5')
    }
  },
  paxOnData('pax-size-fraction-on-data-member', 'size', '1.5'),
  paxSizeOnVersion('pax-size-negative', '-1'),
  paxSizeOnVersion('pax-size-above-max-safe-integer', '9007199254740993'),
  paxSizeOnVersion('pax-size-seventeen-digits', '12345678901234567'),
  paxSizeOnVersion('pax-size-exponent', '1e3'),
  paxSizeOnVersion('pax-size-hex', '0x10'),
  paxSizeOnVersion('pax-size-empty', ''),
  paxSizeOnVersion('pax-size-leading-plus', '+19'),
  paxSizeOnVersion('pax-size-leading-space', ' 19'),
  paxSizeOnVersion('pax-size-trailing-newline', '19\n', '19\\n'),
  paxSizeOnVersion('pax-size-infinity', 'Infinity'),
  paxOnData('pax-uid-fraction', 'uid', '1000.5'),
  paxOnData('pax-gid-negative', 'gid', '-5'),
  paxOnData('pax-mtime-not-a-number', 'mtime', 'NaN'),
  paxOnData('pax-mtime-exponent-overflow', 'mtime', '1e400'),
  {
    name: 'pax-mtime-fraction-and-negative-accepted',
    attack:
      'Fractional and pre-1970 pax mtimes, as Python writes them, must still read.',
    build: withRawData([
      paxHeader([['mtime', '1700000000.123456789']]),
      rawMember({ name: 'DATA/f' }, 'x'),
      paxHeader([['mtime', '-12.5']]),
      rawMember({ name: 'DATA/g' }, 'y')
    ]),
    via: 'entries',
    expect: { ok: true }
  },
  {
    name: 'pax-size-fraction-on-trace',
    attack: 'A pax size of 0.5 on the trace database member.',
    build: () =>
      rawOuter({
        after: [
          paxHeader([['size', '0.5']]),
          rawMember({ name: 'METADATA/trace.sqlite3' }, 'x')
        ]
      }),
    via: 'package',
    expect: {
      code: 'bad-number',
      message: badPax('METADATA/trace.sqlite3', 'size', '0.5')
    }
  },
  {
    name: 'global-pax-size-fraction',
    attack: 'A global pax header giving every later member a size of 1.5.',
    build: withRawData([
      paxHeader([['size', '1.5']], true),
      rawMember({ name: 'DATA/f' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'bad-number',
      message: badPax('a global pax header', 'size', '1.5')
    }
  },
  {
    name: 'pax-length-with-sign',
    attack: 'A pax record length written "+13", which Number() would accept.',
    build: withRawData([
      rawMember({ name: 'PaxHeader', typeflag: 'x' }, '+13 path=abc\n'),
      rawMember({ name: 'DATA/f' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message: 'A pax extended header is malformed'
    }
  },
  {
    name: 'pax-length-exponent',
    attack:
      'A pax record length written "1e1", which Number() would read as 10.',
    build: withRawData([
      rawMember({ name: 'PaxHeader', typeflag: 'x' }, '1e1 a=bcd\n'),
      rawMember({ name: 'DATA/f' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message: 'A pax extended header is malformed'
    }
  },
  {
    name: 'pax-length-shorter-than-its-digits',
    attack:
      'A pax record whose length does not even cover itself, to loop in place.',
    build: withRawData([
      rawMember({ name: 'PaxHeader', typeflag: 'x' }, '2 a=b\n'),
      rawMember({ name: 'DATA/f' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message: 'A pax extended header is malformed'
    }
  },
  {
    name: 'base256-negative-size',
    attack: 'A GNU base-256 size field with the negative marker.',
    build: withRawData([
      patchHeader(rawMember({ name: 'DATA/f' }, 'x'), 124, [
        0xff,
        ...Array<number>(11).fill(0xff)
      ])
    ]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message: 'A tar header has a negative size'
    }
  },
  {
    name: 'base256-uid-beyond-max-safe-integer',
    attack: 'A GNU base-256 uid too large for a double to hold exactly.',
    build: withRawData([
      patchHeader(rawMember({ name: 'DATA/f' }, 'x'), 108, [
        0x80,
        0x7f,
        ...Array<number>(6).fill(0xff)
      ])
    ]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message: 'A tar header has a uid too large to represent'
    }
  },
  {
    name: 'octal-size-with-digit-8',
    attack: 'An octal size field holding the digit 8.',
    build: withRawData([
      patchHeader(
        rawMember({ name: 'DATA/f' }, 'x'),
        124,
        Buffer.from('00000000018\0')
      )
    ]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message: 'A tar header has a size that is not a number ("00000000018")'
    }
  },
  {
    name: 'octal-mtime-with-inner-space',
    attack: 'An octal mtime field with a space between digits.',
    build: withRawData([
      patchHeader(
        rawMember({ name: 'DATA/f' }, 'x'),
        136,
        Buffer.from('0000 000001\0')
      )
    ]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message: 'A tar header has a mtime that is not a number ("0000 000001")'
    }
  },
  {
    name: 'octal-size-in-gzip-outer-with-letters',
    attack:
      'Letters in the size field of METADATA/version in a gzip outer tar.',
    build: async () =>
      gzipSync(
        rawTar([
          rawMember({ name: 'DATA.tar.gz' }, await dataTarGz()),
          patchHeader(
            rawMember({ name: VERSION_MEMBER }, VERSION),
            124,
            Buffer.from('0000000002z\0')
          )
        ])
      ),
    via: 'package',
    expect: {
      code: 'corrupt-tar',
      message: 'A tar header has a size that is not a number ("0000000002z")'
    }
  },
  {
    name: 'gnu-sparse-member',
    attack:
      'An old GNU sparse member (type S), whose hole map the reader would write out as data.',
    build: withRawData([rawMember({ name: 'DATA/s', typeflag: 'S' }, 'x')]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message:
        'DATA/s is a GNU sparse file, which ReproZip never writes; refusing the package'
    }
  },
  {
    name: 'pax-gnu-sparse-records',
    attack: 'A pax 1.0 GNU sparse file, whose data starts with a hole map.',
    build: withRawData([
      paxHeader([
        ['GNU.sparse.major', '1'],
        ['GNU.sparse.minor', '0'],
        ['GNU.sparse.realsize', '1000000000']
      ]),
      rawMember({ name: 'DATA/s' }, '1\n0\n1\n')
    ]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message:
        'DATA/s is a GNU sparse file (pax record GNU.sparse.major), which ReproZip never writes; refusing the package'
    }
  }
];

/** `n` copies of `make(i)`, concatenated. */
function many(n: number, make: (i: number) => Buffer): Buffer[] {
  return Array.from({ length: n }, (_, i) => make(i));
}

/** A `limit-exceeded` sentence, as `overLimit` words it. */
function over(what: string, limit: string, value: number): string {
  return `The package has more than ${value} ${what} (limit ${limit}); refusing to read it`;
}

/** Tar structure: counts, lengths and depths the reader must cap, and work it must keep linear. */
const LIMITS: HostileCase[] = [
  {
    name: 'pax-records-over-limit',
    attack:
      'One pax header with 1001 records, to make per-header work unbounded.',
    build: withRawData([
      paxHeader(Array.from({ length: 1001 }, (_, i) => [`k${i}`, 'v'])),
      rawMember({ name: 'DATA/f' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'limit-exceeded',
      message: over('records in one pax header', 'maxPaxRecords', 1000)
    }
  },
  {
    name: 'global-pax-keys-over-limit',
    attack:
      'Global pax headers setting 1001 distinct keys, kept for the whole stream.',
    build: withRawData([
      paxHeader(
        Array.from({ length: 600 }, (_, i) => [`a${i}`, 'v']),
        true
      ),
      paxHeader(
        Array.from({ length: 401 }, (_, i) => [`b${i}`, 'v']),
        true
      ),
      rawMember({ name: 'DATA/f' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'limit-exceeded',
      message: over('distinct global pax records', 'maxGlobalPaxRecords', 1000)
    }
  },
  {
    name: 'global-pax-records-times-many-members',
    attack:
      '1000 global pax records and 40000 members: copying the globals per member was quadratic.',
    build: withRawData([
      paxHeader(
        Array.from({ length: 1000 }, (_, i) => [`key${i}`, 'value']),
        true
      ),
      ...many(40_000, i => rawHeader({ name: `DATA/f${i}`, size: 0 }))
    ]),
    via: 'entries',
    expect: { ok: true }
  },
  {
    name: 'member-name-over-max-name-bytes',
    attack: 'A pax path of 17000 bytes, kept in memory for every later check.',
    build: withRawData([
      paxHeader([['path', `DATA/${'a'.repeat(17_000)}`]]),
      rawMember({ name: 'DATA/f' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'limit-exceeded',
      message: over(
        `bytes in one member name ("DATA/${'a'.repeat(95)}…")`,
        'maxNameBytes',
        16384
      )
    }
  },
  {
    name: 'gnu-long-name-over-max-name-bytes',
    attack: 'A GNU long name (type L) of 20000 bytes.',
    build: withRawData([
      gnuLong(`DATA/${'b'.repeat(20_000)}`),
      rawMember({ name: 'DATA/f' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'limit-exceeded',
      message: over(
        `bytes in one member name ("DATA/${'b'.repeat(95)}…")`,
        'maxNameBytes',
        16384
      )
    }
  },
  {
    name: 'link-target-over-max-name-bytes',
    attack: 'A symlink whose pax linkpath is 17000 bytes.',
    build: withRawData([
      paxHeader([['linkpath', 'c'.repeat(17_000)]]),
      rawMember({ name: 'DATA/l', typeflag: '2' })
    ]),
    via: 'entries',
    expect: {
      code: 'limit-exceeded',
      message: over(
        `bytes in one link target ("${'c'.repeat(100)}…")`,
        'maxNameBytes',
        16384
      )
    }
  },
  {
    name: 'global-uname-over-max-name-bytes',
    attack:
      'A global pax uname of 17000 bytes, decoded again for every member.',
    build: withRawData([
      paxHeader([['uname', 'u'.repeat(17_000)]], true),
      rawMember({ name: 'DATA/f' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'limit-exceeded',
      message: over(
        'bytes in the user or group name of a global pax header',
        'maxNameBytes',
        16384
      )
    }
  },
  {
    name: 'long-link-header-declares-2-mib',
    attack: 'A GNU long-link header declaring 2 MiB, to be buffered whole.',
    build: withRawData([
      rawHeader({
        name: '././@LongLink',
        typeflag: 'K',
        magic: 'gnu',
        size: 2 * 1024 * 1024
      })
    ]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message: 'A tar long-name or pax header declares 2097152 bytes, too many'
    }
  },
  {
    name: 'path-deeper-than-max-depth',
    attack: 'A member name of 1101 components.',
    build: withRawData([
      paxHeader([['path', `DATA/${'a/'.repeat(1100)}f`]]),
      rawMember({ name: 'DATA/f' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'limit-exceeded',
      message: over(
        `components in one path ("DATA/${'a/'.repeat(47)}a…")`,
        'maxPathDepth',
        1024
      )
    }
  },
  {
    name: 'deep-paths-after-a-symlink',
    attack:
      'A symlink, then 3000 members 1000 components deep: checking each ancestor against the symlinks was quadratic in the depth.',
    build: withRawData([
      rawMember({ name: 'DATA/l', typeflag: '2', linkname: '/' }),
      ...many(3000, i =>
        Buffer.concat([
          paxHeader([['path', `DATA/${'d/'.repeat(1000)}f${i}`]]),
          rawHeader({ name: 'x', size: 0 })
        ])
      )
    ]),
    via: 'entries',
    expect: { ok: true }
  },
  {
    name: 'entries-over-limit',
    attack: 'More entries than the configured maxEntries.',
    build: withRawData(
      many(101, i => rawHeader({ name: `DATA/f${i}`, size: 0 }))
    ),
    via: 'entries',
    options: { readLimits: { maxEntries: 100 } },
    expect: {
      code: 'limit-exceeded',
      message: over('entries in its data', 'maxEntries', 100)
    }
  },
  {
    name: 'path-bytes-over-limit',
    attack: 'More bytes of paths than the configured maxPathBytes.',
    build: withRawData(
      many(20, i => rawHeader({ name: `DATA/${'p'.repeat(90)}${i}`, size: 0 }))
    ),
    via: 'entries',
    options: { readLimits: { maxPathBytes: 1000 } },
    expect: {
      code: 'limit-exceeded',
      message: over('bytes of entry paths in its data', 'maxPathBytes', 1000)
    }
  },
  {
    name: 'outer-members-over-limit',
    attack: 'More outer members than the configured maxEntries.',
    build: () =>
      rawOuter({
        after: many(60, i => rawHeader({ name: `METADATA/x${i}`, size: 0 }))
      }),
    via: 'package',
    options: { readLimits: { maxEntries: 50 } },
    expect: {
      code: 'limit-exceeded',
      message: over('members in its outer archive', 'maxEntries', 50)
    }
  },
  {
    name: 'unexpected-outer-members-flood-warnings',
    attack: '1500 unexpected outer members, one warning each.',
    build: () =>
      rawOuter({
        after: many(1500, i => rawHeader({ name: `junk${i}`, size: 0 }))
      }),
    via: 'package',
    expect: {
      warning: /^Further warnings are not listed \(limit maxWarnings, 1000\)\.$/
    }
  },
  {
    name: 'extensions-over-limit',
    attack:
      '1001 distinct names under EXTENSIONS/ (each was looked up in a list).',
    build: () =>
      rawOuter({
        after: many(1001, i => rawHeader({ name: `EXTENSIONS/e${i}`, size: 0 }))
      }),
    via: 'package',
    expect: {
      code: 'limit-exceeded',
      message: over(
        'extensions (names under EXTENSIONS/)',
        'maxExtensions',
        1000
      )
    }
  }
];

/** A package whose config is `config`; big ones go in a gzip outer tar to stay small. */
function withConfig(config: string, gzip = false): () => Promise<Buffer> {
  return () => buildRpz({ config, layout: gzip ? 'v2-gzip' : 'v2' });
}

const HEAD = 'version: "0.8"\nruns:\n';

/** config.yml: linear parsing, bounded nesting and counts. */
const CONFIG_CASES: HostileCase[] = [
  {
    name: 'yaml-retry-with-a-long-run-of-spaces',
    attack:
      'A config that fails to parse and has a name line with 300000 spaces: the retry regular expression backtracked for minutes.',
    build: withConfig(
      `${HEAD}- {argv: [a]\n- name: a${' '.repeat(300_000)}b\n`
    ),
    via: 'package',
    expect: { code: 'invalid-yaml', message: /is not valid YAML/ }
  },
  {
    name: 'yaml-escapes-in-one-scalar',
    attack:
      'A config in the form reprozip writes whose hostname is one double-quoted scalar of 400000 escapes: searching for the closing quote from each escape would be quadratic.',
    build: withConfig(
      `${HEAD}- argv:\n  - a\n  binary: /a\n  workingdir: /\n  uid: 0\n  gid: 0\n  hostname: "${'\\\\'.repeat(400_000)}"\n`
    ),
    via: 'package',
    expect: { ok: true }
  },
  {
    name: 'yaml-doubled-single-quotes',
    attack:
      'A config in the form reprozip writes whose hostname is one single-quoted scalar of 400000 doubled quotes.',
    build: withConfig(
      `${HEAD}- argv:\n  - a\n  binary: /a\n  workingdir: /\n  uid: 0\n  gid: 0\n  hostname: '${"''".repeat(400_000)}'\n`
    ),
    via: 'package',
    expect: { ok: true }
  },
  {
    name: 'yaml-flow-nesting-too-deep',
    attack: '100000 nested flow sequences, to exhaust the YAML composer stack.',
    build: withConfig(`${HEAD}- argv: ${'['.repeat(100_000)}`),
    via: 'package',
    expect: {
      code: 'limit-exceeded',
      message:
        'METADATA/config.yml is nested more than 64 levels deep (limit maxYamlDepth); refusing to read it'
    }
  },
  {
    name: 'yaml-compact-sequence-nesting',
    attack:
      '50000 compact nested sequences (- - - …) on one line: the YAML composer aborts the process out of memory.',
    build: withConfig(`${HEAD}${'- '.repeat(50_000)}x\n`),
    via: 'package',
    expect: {
      code: 'limit-exceeded',
      message:
        'METADATA/config.yml is nested more than 64 levels deep (limit maxYamlDepth); refusing to read it'
    }
  },
  {
    name: 'yaml-block-mapping-nesting',
    attack: '200 block mappings, each indented one more space.',
    build: withConfig(
      `${HEAD}- argv: [a]\n  x:\n${Array.from({ length: 200 }, (_, i) => `${' '.repeat(i + 3)}k:`).join('\n')}\n`
    ),
    via: 'package',
    expect: {
      code: 'limit-exceeded',
      message:
        'METADATA/config.yml is nested more than 64 levels deep (limit maxYamlDepth); refusing to read it'
    }
  },
  {
    name: 'yaml-brackets-inside-quotes-are-not-nesting',
    attack:
      'Deep brackets inside quoted strings must not count as nesting (a real argv can hold them).',
    build: withConfig(
      `${HEAD}- argv: [python, -c, "${'['.repeat(500)}", '${']'.repeat(500)}']\n  binary: /a\n  workingdir: /\n  uid: 0\n  gid: 0\n`
    ),
    via: 'package',
    expect: { ok: true }
  },
  {
    name: 'yaml-alias-bomb',
    attack: 'A billion-laughs chain of aliases.',
    build: withConfig(
      `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n${HEAD}${run0}\n`
    ),
    via: 'package',
    expect: { code: 'invalid-yaml', message: /not usable YAML: .*alias/i }
  },
  {
    name: 'yaml-stray-commas',
    attack:
      '300000 stray commas in a flow list: one parser error each, and a stack trace captured for each.',
    build: withConfig(`${HEAD}- argv: [${','.repeat(300_000)}]\n`),
    via: 'package',
    expect: { code: 'invalid-yaml', message: /is not valid YAML/ }
  },
  {
    name: 'yaml-tokens-over-limit',
    attack:
      'A config of 2.5 million stray commas (the parser keeps an error object for each).',
    build: withConfig(`${HEAD}- argv: [${','.repeat(2_500_000)}]\n`, true),
    via: 'package',
    expect: {
      code: 'limit-exceeded',
      message:
        'METADATA/config.yml has more than 2000000 YAML tokens (limit maxYamlTokens); refusing to read it'
    }
  },
  {
    name: 'yaml-list-items-over-token-limit',
    attack:
      'other_files with 600000 one-letter items: the YAML parser keeps about 800 bytes per node.',
    build: withConfig(
      `${HEAD}${run0}\nother_files:\n${'- x\n'.repeat(600_000)}`,
      true
    ),
    via: 'package',
    expect: {
      code: 'limit-exceeded',
      message:
        'METADATA/config.yml has more than 2000000 YAML tokens (limit maxYamlTokens); refusing to read it'
    }
  },
  {
    name: 'big-real-looking-config-reads',
    attack:
      'A legitimate big config (40000 packed files) must still read within the deadline.',
    build: withConfig(
      `${HEAD}${run0}\npackages:\n  - name: big\n    version: "1"\n    packfiles: true\n    files:\n${Array.from({ length: 40_000 }, (_, i) => `      - "/usr/lib/python3/dist-packages/pkg${i % 100}/module${i}.py" # 1.2 KB\n`).join('')}`,
      true
    ),
    via: 'package',
    expect: { ok: true }
  },
  {
    name: 'runs-over-limit',
    attack: '10001 runs, each turned into a model and a parameter form.',
    build: withConfig(`${HEAD}${'- {argv: [a]}\n'.repeat(10_001)}`),
    via: 'package',
    expect: {
      code: 'limit-exceeded',
      message: over('runs in config.yml', 'maxRuns', 10000)
    }
  },
  {
    name: 'argv-bytes-over-limit',
    attack: 'One argument of 5 MiB.',
    build: withConfig(
      `${HEAD}- argv: [a, '${'x'.repeat(5 * 1024 * 1024)}']\n`,
      true
    ),
    via: 'package',
    expect: {
      code: 'limit-exceeded',
      message: over('bytes in the argv of run 0', 'maxArgvBytes', 4194304)
    }
  },
  {
    name: 'argv-count-over-limit',
    attack: '262145 arguments in one argv.',
    build: withConfig(`${HEAD}- argv: [${'a,'.repeat(262_145)}]\n`, true),
    via: 'package',
    expect: {
      code: 'limit-exceeded',
      message: over('arguments in the argv of run 0', 'maxArgs', 262144)
    }
  },
  {
    name: 'environ-over-limit',
    attack: 'An environment variable of 5 MiB.',
    build: withConfig(
      `${HEAD}- argv: [a]\n  environ: {BIG: '${'e'.repeat(5 * 1024 * 1024)}'}\n`,
      true
    ),
    via: 'package',
    expect: {
      code: 'limit-exceeded',
      message: over(
        'bytes in the environment of run 0',
        'maxEnvironBytes',
        4194304
      )
    }
  },
  {
    name: 'io-files-with-one-name',
    attack:
      '10000 inputs all named "a": finding the next free name_N was cubic.',
    build: withConfig(
      `${HEAD}${run0}\ninputs_outputs:\n${Array.from({ length: 10_000 }, (_, i) => `- {name: a, path: /p${i}, read_by_runs: [0]}`).join('\n')}\n`
    ),
    via: 'package',
    expect: {
      warning: /^Further warnings are not listed \(limit maxWarnings, 1000\)\.$/
    }
  },
  {
    name: 'io-files-with-one-path',
    attack: '10000 inputs all at one path: merging them was quadratic.',
    build: withConfig(
      `${HEAD}${run0}\ninputs_outputs:\n${'- {name: a, path: /p, read_by_runs: [0], written_by_runs: [0]}\n'.repeat(10_000)}`,
      true
    ),
    via: 'package',
    expect: { ok: true }
  },
  {
    name: 'io-files-over-limit',
    attack: 'More inputs and outputs than the configured maxIoFiles.',
    build: withConfig(
      `${HEAD}${run0}\ninputs_outputs:\n${Array.from({ length: 11 }, (_, i) => `- {name: n${i}, path: /p${i}}`).join('\n')}\n`
    ),
    via: 'package',
    options: { readLimits: { maxIoFiles: 10 } },
    expect: {
      code: 'limit-exceeded',
      message: over('input and output files in config.yml', 'maxIoFiles', 10)
    }
  },
  {
    name: 'packages-over-limit',
    attack: 'More software packages than the configured maxPackages.',
    build: withConfig(
      `${HEAD}${run0}\npackages:\n${'- {name: p, version: "1", files: []}\n'.repeat(11)}`
    ),
    via: 'package',
    options: { readLimits: { maxPackages: 10 } },
    expect: {
      code: 'limit-exceeded',
      message: over('software packages in config.yml', 'maxPackages', 10)
    }
  },
  {
    name: 'listed-files-over-limit',
    attack: 'More listed files than the configured maxListedFiles.',
    build: withConfig(`${HEAD}${run0}\nother_files: [${'/f, '.repeat(11)}]\n`),
    via: 'package',
    options: { readLimits: { maxListedFiles: 10 } },
    expect: {
      code: 'limit-exceeded',
      message: over(
        'files listed in config.yml (packages and other_files)',
        'maxListedFiles',
        10
      )
    }
  },
  {
    name: 'unknown-keys-flood-warnings',
    attack: '5000 unknown keys, one warning each.',
    build: withConfig(
      `${HEAD}${run0}\n${Array.from({ length: 5000 }, (_, i) => `junk${i}: 1`).join('\n')}\n`
    ),
    via: 'package',
    expect: {
      warning: /^Further warnings are not listed \(limit maxWarnings, 1000\)\.$/
    }
  },
  {
    name: 'megabyte-version-string-in-a-warning',
    attack: 'A 1 MiB config version, copied into a warning sentence.',
    build: withConfig(
      `version: '${'v'.repeat(1024 * 1024)}'\nruns:\n${run0}\n`
    ),
    via: 'package',
    expect: {
      warning:
        /^METADATA\/config\.yml: version "v{100}…" is not a version number; reading it anyway\.$/
    }
  }
];

const GOOD_TABLES = `
  CREATE TABLE processes(id INTEGER NOT NULL PRIMARY KEY, run_id INTEGER NOT NULL, parent INTEGER,
    timestamp INTEGER NOT NULL, is_thread BOOLEAN NOT NULL, exitcode INTEGER);
  CREATE TABLE opened_files(id INTEGER NOT NULL PRIMARY KEY, run_id INTEGER NOT NULL, name TEXT NOT NULL,
    timestamp INTEGER NOT NULL, mode INTEGER NOT NULL, is_directory BOOLEAN NOT NULL, process INTEGER NOT NULL);
  CREATE TABLE executed_files(id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, run_id INTEGER NOT NULL,
    timestamp INTEGER NOT NULL, process INTEGER NOT NULL, argv TEXT NOT NULL, envp TEXT NOT NULL,
    workingdir TEXT NOT NULL);
  INSERT INTO processes VALUES (1, 0, NULL, 1, 0, 0);
  INSERT INTO executed_files VALUES (1, '/bin/sh', 0, 1, 1, 'sh', '', '/');
  INSERT INTO opened_files VALUES (1, 0, '/in.txt', 1, 1, 0, 1);
`;

/** The trace tables with `table`'s CREATE replaced by `replacement`. */
function tablesWith(table: string, replacement: string): string {
  const start = GOOD_TABLES.indexOf(`CREATE TABLE ${table}(`);
  const end = GOOD_TABLES.indexOf(';', start) + 1;
  const insert = new RegExp(`INSERT INTO ${table} VALUES [^;]*;`);
  return (
    GOOD_TABLES.slice(0, start) +
    replacement +
    GOOD_TABLES.slice(end)
  ).replace(insert, '');
}

/** A package whose trace is made by `sql`. */
function withTrace(sql: string): () => Promise<Buffer> {
  return () => buildRpz({ trace: traceWith(sql) });
}

/** A package whose trace member is `METADATA/trace.sqlite3.gz` holding `gz`. */
async function withTraceGz(gz: Buffer): Promise<Buffer> {
  return buildRpz({
    trace: null,
    extra: [{ name: 'METADATA/trace.sqlite3.gz', content: gz }]
  });
}

function traceWarning(reason: string): RegExp {
  const escaped = reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `^The trace database cannot be read \\(${escaped}\\); the trace summary is missing\\.$`
  );
}

/** The trace database: only real tables, bounded queries, a guarded decompression. */
const TRACE_CASES: HostileCase[] = [
  {
    name: 'trace-recursive-view',
    attack:
      'processes is a recursive view that never ends: the count query hung.',
    build: withTrace(
      tablesWith(
        'processes',
        'CREATE VIEW processes AS WITH RECURSIVE r(run_id) AS (SELECT 0 UNION ALL SELECT run_id FROM r) SELECT run_id, 0 AS is_thread FROM r;'
      )
    ),
    via: 'package',
    expect: { warning: traceWarning('processes is a view, not a table') }
  },
  {
    name: 'trace-uppercase-view',
    attack: 'A view named PROCESSES, which SQLite resolves for processes.',
    build: withTrace(
      tablesWith(
        'processes',
        'CREATE VIEW PROCESSES AS SELECT 0 AS run_id, 0 AS is_thread;'
      )
    ),
    via: 'package',
    expect: { warning: traceWarning('processes is a view, not a table') }
  },
  {
    name: 'trace-trigger',
    attack: 'A trigger in the trace database.',
    build: withTrace(
      `${GOOD_TABLES} CREATE TRIGGER t AFTER INSERT ON processes BEGIN SELECT 1; END;`
    ),
    via: 'package',
    expect: { warning: traceWarning('the trace database has a trigger (t)') }
  },
  {
    name: 'trace-virtual-table',
    attack: 'opened_files as an FTS5 virtual table.',
    build: withTrace(
      tablesWith(
        'opened_files',
        'CREATE VIRTUAL TABLE opened_files USING fts5(run_id, name, mode, is_directory);'
      )
    ),
    via: 'package',
    expect: { warning: traceWarning('opened_files is a virtual table') }
  },
  {
    name: 'trace-generated-column',
    attack:
      'executed_files.name as a generated column building a 100 MB string for every row read.',
    build: withTrace(
      tablesWith(
        'executed_files',
        "CREATE TABLE executed_files(id INTEGER PRIMARY KEY, run_id INTEGER, name TEXT GENERATED ALWAYS AS (printf('%.*c', 100000000, 'x')) VIRTUAL);"
      )
    ),
    via: 'package',
    expect: {
      warning: traceWarning('executed_files has a generated column (name)')
    }
  },
  {
    name: 'trace-without-rowid-sorted-by-a-text-id',
    attack:
      'executed_files as a WITHOUT ROWID table keyed by text, so reading it "by id" would sort it in a temporary file.',
    build: withTrace(
      tablesWith(
        'executed_files',
        'CREATE TABLE executed_files(id TEXT PRIMARY KEY, run_id INTEGER, name TEXT) WITHOUT ROWID;'
      )
    ),
    via: 'package',
    expect: { warning: traceWarning('no such column: rowid') }
  },
  {
    name: 'trace-not-a-database',
    attack: 'Random bytes as the trace database.',
    build: () => buildRpz({ trace: Buffer.alloc(8192, 0x5a) }),
    via: 'package',
    expect: { warning: traceWarning('file is not a database') }
  },
  {
    name: 'trace-gz-bomb-default-limits',
    attack:
      'trace.sqlite3.gz holding 100 MiB of zeros: it was decompressed into /tmp without any guard.',
    build: () => withTraceGz(gzipSync(Buffer.alloc(100 * 1024 * 1024))),
    via: 'package',
    expect: {
      warning:
        /^The trace database cannot be read \(METADATA\/trace\.sqlite3\.gz expands more than 500 times/
    }
  },
  {
    name: 'trace-gz-over-max-trace-bytes',
    attack: 'A compressed trace bigger than the configured maxTraceBytes.',
    build: () => withTraceGz(gzipSync(Buffer.alloc(2 * 1024 * 1024, 1))),
    via: 'package',
    options: { readLimits: { maxTraceBytes: 1024 * 1024 } },
    expect: {
      warning: traceWarning(
        'METADATA/trace.sqlite3.gz expands to more than 1048576 bytes, over the limit maxTraceBytes'
      )
    }
  },
  {
    name: 'trace-plain-over-max-trace-bytes',
    attack: 'A plain trace bigger than the configured maxTraceBytes.',
    build: () => buildRpz({ trace: Buffer.alloc(4096, 1) }),
    via: 'package',
    options: { readLimits: { maxTraceBytes: 1000 } },
    expect: {
      warning: traceWarning(
        'METADATA/trace.sqlite3 is 4096 bytes, over the limit maxTraceBytes (1000)'
      )
    }
  },
  {
    name: 'trace-gz-corrupt',
    attack: 'A compressed trace that is not valid gzip.',
    build: () =>
      withTraceGz(
        Buffer.concat([
          Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]),
          Buffer.alloc(64, 0xff)
        ])
      ),
    via: 'package',
    expect: {
      warning: traceWarning(
        'METADATA/trace.sqlite3.gz is not valid gzip data (invalid block type)'
      )
    }
  },
  {
    name: 'trace-long-names',
    attack: 'A trace row whose file name is 20000 characters.',
    build: withTrace(
      `${GOOD_TABLES} INSERT INTO opened_files VALUES (2, 0, '/' || printf('%.*c', 20000, 'n'), 2, 1, 0, 1);`
    ),
    via: 'package',
    expect: {
      warning:
        /^The trace summary is partial: names longer than 16384 characters \(limit maxTraceNameBytes\) were skipped\.$/
    }
  },
  {
    name: 'trace-many-run-ids',
    attack: '20000 distinct run ids in processes, one summary each.',
    build: withTrace(
      `${GOOD_TABLES} WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
        INSERT INTO processes SELECT i + 1, i, NULL, 0, 0, 0 FROM n;`
    ),
    via: 'package',
    expect: {
      warning:
        /^The trace summary is partial: runs past the first 10000 \(limit maxRuns\) were skipped\.$/
    }
  },
  {
    name: 'trace-rows-over-limit',
    attack: 'More trace rows than the configured maxTraceRows.',
    build: withTrace(
      `${GOOD_TABLES} INSERT INTO opened_files VALUES (2, 0, '/a', 2, 1, 0, 1), (3, 0, '/b', 3, 1, 0, 1);`
    ),
    via: 'package',
    options: { readLimits: { maxTraceRows: 2 } },
    expect: {
      warning:
        /^The trace summary is partial: only the first 2 rows of opened_files were read \(limit maxTraceRows\)\.$/
    }
  }
];

/** Names that escape or cannot be represented, through every way a tar can spell a name. */
const NAMES: HostileCase[] = [
  {
    name: 'pax-path-override-escapes',
    attack:
      'An innocent ustar name overridden by a pax path that leaves the root.',
    build: withRawData([
      paxHeader([['path', 'DATA/../../etc/cron.d/x']]),
      rawMember({ name: 'DATA/innocent' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'unsafe-path',
      message:
        'The package has a member named DATA/../../etc/cron.d/x, which leaves the package root'
    }
  },
  {
    name: 'global-pax-path-override-escapes',
    attack:
      'A global pax path that renames every later member out of the root.',
    build: withRawData([
      paxHeader([['path', '../../etc/passwd']], true),
      rawMember({ name: 'DATA/innocent' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'unsafe-path',
      message:
        'The package has a member named ../../etc/passwd, which leaves the package root'
    }
  },
  {
    name: 'pax-linkpath-override-absolute',
    attack: 'A hard link whose pax linkpath is an absolute host path.',
    build: withRawData([
      rawMember({ name: 'DATA/f' }, 'x'),
      paxHeader([['linkpath', '/etc/shadow']]),
      rawMember({ name: 'DATA/h', typeflag: '1', linkname: 'DATA/f' })
    ]),
    via: 'entries',
    expect: {
      code: 'unsafe-link',
      message:
        'A hard link in the package points to the absolute path /etc/shadow; only paths inside DATA/ are allowed'
    }
  },
  {
    name: 'gnu-long-link-escapes',
    attack: 'A GNU long link (type K) pointing a hard link out of the root.',
    build: withRawData([
      gnuLong('../../../etc/shadow', 'K'),
      rawMember({ name: 'DATA/h', typeflag: '1', linkname: 'DATA/x' })
    ]),
    via: 'entries',
    expect: {
      code: 'unsafe-link',
      message:
        'A hard link in the package points to ../../../etc/shadow, which is outside DATA/'
    }
  },
  {
    name: 'gnu-long-name-escapes',
    attack: 'A GNU long name (type L) that leaves the root.',
    build: withRawData([
      gnuLong('DATA/a/../../../etc/x'),
      rawMember({ name: 'DATA/innocent' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'unsafe-path',
      message:
        'The package has a member named DATA/a/../../../etc/x, which leaves the package root'
    }
  },
  {
    name: 'dot-slash-prefix-then-escape',
    attack: 'A name hiding ../ behind a ./ prefix.',
    build: withRawData([rawMember({ name: './DATA/../../x' }, 'x')]),
    via: 'entries',
    expect: {
      code: 'unsafe-path',
      message:
        'The package has a member named DATA/../../x, which leaves the package root'
    }
  },
  {
    name: 'symlink-target-not-utf8',
    attack: 'A symlink target that is not UTF-8.',
    build: withRawData([
      rawMember({
        name: 'DATA/l',
        typeflag: '2',
        linkname: Buffer.from([0x61, 0xff])
      })
    ]),
    via: 'entries',
    expect: {
      code: 'non-utf8-name',
      message:
        'A link target in the package is not valid UTF-8 ("a\\xff"); such names are not supported'
    }
  }
];

/** Outer members: sizes declared before anything is read, and members that appear twice. */
const OUTER: HostileCase[] = [
  {
    name: 'config-declares-1-gib-in-gzip-outer',
    attack:
      'A config.yml header declaring 1 GiB in a gzip outer tar, to be collected in memory.',
    build: async () =>
      gzipSync(
        rawTar(
          [
            rawMember({ name: 'DATA.tar.gz' }, await dataTarGz()),
            rawMember({ name: VERSION_MEMBER }, VERSION),
            rawHeader({ name: CONFIG, size: 1024 ** 3 })
          ],
          false
        )
      ),
    via: 'package',
    expect: {
      code: 'member-too-large',
      message: `${CONFIG} is 1073741824 bytes, over the 16777216-byte limit for package metadata`
    }
  },
  {
    name: 'version-member-over-4-kib',
    attack: 'A METADATA/version of 5000 bytes.',
    build: () => buildRpz({ version: `REPROZIP VERSION 2${' '.repeat(5000)}` }),
    via: 'package',
    expect: {
      code: 'member-too-large',
      message:
        'METADATA/version is 5018 bytes, over the 4096-byte limit for package metadata'
    }
  },
  {
    name: 'trace-and-compressed-trace',
    attack:
      'Both trace.sqlite3 and trace.sqlite3.gz: the second copy used to fail on the first (EEXIST).',
    build: async () =>
      buildRpz({
        extra: [
          {
            name: 'METADATA/trace.sqlite3.gz',
            content: gzipSync(Buffer.alloc(10))
          }
        ]
      }),
    via: 'package',
    expect: {
      warning:
        /^The package holds a second trace database, METADATA\/trace\.sqlite3\.gz; it is ignored\.$/
    }
  },
  {
    name: 'data-tar-gz-twice',
    attack:
      'Two DATA.tar.gz members: which one is checked and which one is run?',
    build: async () =>
      buildRpz({
        extra: [{ name: 'DATA.tar.gz', content: await dataTarGz() }]
      }),
    via: 'package',
    expect: {
      code: 'duplicate-entry',
      message: 'The package holds DATA.tar.gz twice, so it is ambiguous'
    }
  },
  {
    name: 'v1-gzip-pax-size-fraction-on-data',
    attack:
      'A version 1 package (DATA in the gzip outer tar) with a pax size of 1.5.',
    build: async () =>
      gzipSync(
        rawTar([
          rawMember({ name: 'DATA', typeflag: '5' }),
          paxHeader([['size', '1.5']]),
          rawMember({ name: 'DATA/f' }, 'x'),
          rawMember({ name: VERSION_MEMBER }, 'REPROZIP VERSION 1\n'),
          rawMember({ name: CONFIG }, BASIC_CONFIG)
        ])
      ),
    via: 'entries',
    expect: { code: 'bad-number', message: badPax('DATA/f', 'size', '1.5') }
  }
];

/** Names the filesystem cannot hold, and links that point at themselves. */
const ODD_NAMES: HostileCase[] = [
  {
    name: 'pax-path-with-nul',
    attack:
      'A pax path with a NUL byte, which truncates the name in C and throws in Node.',
    build: withRawData([
      paxHeader([['path', 'DATA/a\u0000/../../etc/x']]),
      rawMember({ name: 'DATA/innocent' }, 'x')
    ]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message:
        'A member name in the package contains a NUL byte ("DATA/a\\x00/../../etc/x"), which no file name can'
    }
  },
  {
    name: 'symlink-target-with-nul',
    attack: 'A symlink target with a NUL byte, via a pax linkpath.',
    build: withRawData([
      paxHeader([['linkpath', '/etc\u0000x']]),
      rawMember({ name: 'DATA/l', typeflag: '2' })
    ]),
    via: 'entries',
    expect: {
      code: 'corrupt-tar',
      message:
        'A link target in the package contains a NUL byte ("/etc\\x00x"), which no file name can'
    }
  },
  {
    name: 'hard-link-to-itself',
    attack: 'A hard link whose target is its own name.',
    build: withData([{ name: 'DATA/h', type: 'link', linkname: 'DATA/h' }]),
    via: 'entries',
    expect: {
      code: 'unsafe-link',
      message:
        'The hard link DATA/h points to DATA/h, which is not an earlier file of the package'
    }
  },
  {
    name: 'entries-at-reserved-top-level-names',
    attack:
      'Files at /proc, /dev (a link to /tmp), /sys and /.reproserver, to shadow or be shadowed by what the runners mount there; the data reads, and the sandbox skips them when it unpacks.',
    build: withData([
      { name: 'DATA/proc', type: 'directory' },
      { name: 'DATA/proc/self', content: 'not the real one' },
      { name: 'DATA/dev', type: 'symlink', linkname: '/tmp' },
      { name: 'DATA/sys', type: 'directory' },
      { name: 'DATA/.reproserver', type: 'directory' },
      {
        name: 'DATA/.reproserver/rpz-exec',
        content: '#!/bin/sh\n',
        mode: 0o4755
      }
    ]),
    via: 'entries',
    expect: { ok: true }
  }
];

/** Every hostile case. Names are unique. */
export const HOSTILE_CORPUS: HostileCase[] = [
  ...MALFORMED,
  ...NUMBERS,
  ...LIMITS,
  ...CONFIG_CASES,
  ...TRACE_CASES,
  ...NAMES,
  ...OUTER,
  ...ODD_NAMES
];
