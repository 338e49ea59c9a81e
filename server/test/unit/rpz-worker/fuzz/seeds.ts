/**
 * The fuzzer's seeds: packages made by the real reprozip (examples/*.rpz in git, and those the
 * test command makes in .state/examples), each also repacked in the two older layouts (a gzip
 * outer tar: ReproZip 1.0.0–1.0.5; version 1: DATA/ members in one gzip tar), split into raw
 * members so that mutations can aim at one header, one record or one member.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { EXAMPLES_DIR } from '../../../helpers/examples';
import {
  headerName,
  joinTar,
  splitTar,
  withBody,
  type RawMember,
  type RawTar
} from './raw-tar';

export type Layout = 'v2' | 'v2-gzip' | 'v1';

export interface Seed {
  /** e.g. `shell-pipeline.rpz as v1`. */
  name: string;
  layout: Layout;
  /** The outer tar, uncompressed. */
  outer: RawTar;
  /** The DATA tar, uncompressed (v2 layouts; v1 keeps DATA/ in the outer tar). */
  inner: RawTar | null;
}

const GIT_EXAMPLES = resolve(
  __dirname,
  '..',
  '..',
  '..',
  '..',
  '..',
  'examples'
);

/** The seed package files, sorted and without duplicates (by content). */
export function seedFiles(): string[] {
  const seen = new Set<string>();
  const files: string[] = [];
  for (const dir of [GIT_EXAMPLES, EXAMPLES_DIR]) {
    if (!existsSync(dir)) {
      continue;
    }
    for (const name of readdirSync(dir).sort()) {
      if (!name.endsWith('.rpz')) {
        continue;
      }
      const path = join(dir, name);
      const hash = createHash('sha256')
        .update(readFileSync(path))
        .digest('hex');
      if (!seen.has(hash)) {
        seen.add(hash);
        files.push(path);
      }
    }
  }
  return files;
}

export function isMember(member: RawMember, name: string): boolean {
  return headerName(member.header) === name;
}

/** The seeds of one reprozip-made (v2, plain outer tar) package: its three layouts. */
export function seedsOf(path: string): Seed[] {
  const label = path.split('/').pop()!;
  const outer = splitTar(readFileSync(path));
  const data = outer.members.find(m => isMember(m, 'DATA.tar.gz'));
  if (!data) {
    throw new Error(`${path} is not a version 2 package`);
  }
  const inner = splitTar(gunzipSync(data.body));
  const metadata = outer.members.filter(m => !isMember(m, 'DATA.tar.gz'));
  const trace = metadata.filter(m => isMember(m, 'METADATA/trace.sqlite3'));
  const rest = metadata.filter(m => !isMember(m, 'METADATA/trace.sqlite3'));
  return [
    { name: `${label}`, layout: 'v2', outer, inner },
    { name: `${label} as v2-gzip`, layout: 'v2-gzip', outer, inner },
    {
      name: `${label} as v1`,
      layout: 'v1',
      // ReproZip 0.x wrote the trace first, then DATA/, then version and config.
      outer: {
        members: [
          ...trace,
          ...inner.members,
          ...rest.map(m =>
            isMember(m, 'METADATA/version')
              ? withBody(m, Buffer.from('REPROZIP VERSION 1\n'))
              : m
          )
        ],
        trailer: Buffer.alloc(1024)
      },
      inner: null
    }
  ];
}

/**
 * The package's bytes. `inner` replaces the DATA tar (re-gzipped, fast level); `dataTarGz`
 * replaces DATA.tar.gz's bytes as they are (for gzip-framing mutations).
 */
export function assemble(
  seed: Seed,
  outer: RawTar,
  inner: RawTar | null,
  dataTarGz?: Buffer
): Buffer {
  let members = outer.members;
  if (seed.layout !== 'v1' && (inner !== seed.inner || dataTarGz)) {
    const body = dataTarGz ?? fastGzip(joinTar(inner!));
    members = members.map(m =>
      isMember(m, 'DATA.tar.gz') ? withBody(m, body) : m
    );
  }
  const tar = joinTar({ members, trailer: outer.trailer });
  return seed.layout === 'v2' ? tar : fastGzip(tar);
}

/**
 * Gzip that keeps the fuzzer's pace: deflated as reprozip does for small inputs, stored blocks
 * (still a valid gzip stream, through the same inflater and guard) for big ones.
 */
export function fastGzip(bytes: Buffer): Buffer {
  return gzipSync(bytes, { level: bytes.length < 2 * 1024 * 1024 ? 1 : 0 });
}
