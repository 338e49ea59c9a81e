/**
 * Finds the members of a package's outer container: `METADATA/version`, `METADATA/config.yml`, the
 * trace, `DATA.tar.gz` (v2) or the `DATA/` members (v1), and `EXTENSIONS/`. For a plain outer tar
 * this walks headers with positioned reads and never touches the data; a gzip outer tar has to be
 * streamed through once (the data is skipped, not kept).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import type { PositionalFile } from './positional-file';
import { Readable } from 'node:stream';
import type * as StreamPromises from 'node:stream/promises';
import { sniffContainer, type OuterEncoding } from './detect';
import { RpzError } from './errors';
import { gunzipGuarded, type InflateLimits } from './gunzip';
import { addWarning, overLimit, readLimits, type ReadLimits } from './limits';
import { parseTar } from './tar-parse';
import { readAt, walkTar } from './tar-walk';
import type { TarMember } from './tar-header';

export const VERSION_MEMBER = 'METADATA/version';
export const CONFIG_MEMBER = 'METADATA/config.yml';
export const TRACE_MEMBER = 'METADATA/trace.sqlite3';
export const TRACE_GZ_MEMBER = 'METADATA/trace.sqlite3.gz';
export const DATA_MEMBER = 'DATA.tar.gz';

/** The version file is one short line. */
const MAX_VERSION_BYTES = 4096;
/** Default cap on config.yml. */
export const DEFAULT_MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** What the outer container holds. */
export interface Layout {
  encoding: OuterEncoding;
  fileSize: number;
  versionText: string | null;
  configText: string | null;
  /** Where `DATA.tar.gz` is, for a plain outer tar (v2). */
  dataMember: { offset: number; size: number } | null;
  /** Size of `DATA.tar.gz`, when present (either outer encoding). */
  dataSize: number | null;
  /** True when the outer tar has `DATA/…` members (the v1 layout). */
  hasDataDir: boolean;
  /** The trace, when one was found and taken: its bytes, or the file it was copied to. */
  trace: TraceCopy | null;
  /** Why a trace that is present was not copied (too big, broken gzip), when it was not. */
  traceProblem: string | null;
  extensions: string[];
  warnings: string[];
}

/** A trace taken out of the package. */
export type TraceCopy = { bytes: Buffer } | { file: string };

/** Where a trace found in the package goes. */
export interface TraceTarget {
  /**
   * A plain (not gzipped) trace member of a plain outer tar up to this size is read into memory,
   * with no file written; 0 copies every trace to `file()`.
   */
  inMemoryBytes: number;
  /** The path to copy a trace to (in a private scratch folder, made when first asked). */
  file(): Promise<string>;
}

export interface LayoutOptions {
  maxConfigBytes?: number;
  limits?: InflateLimits;
  /** Where the trace (plain or .gz) goes, when present; not read without. */
  trace?: TraceTarget;
  /** Caps on counts and lengths (see `READ_LIMITS`). */
  readLimits?: ReadLimits;
}

function metadataCap(name: string, maxConfigBytes: number): number {
  return name === VERSION_MEMBER ? MAX_VERSION_BYTES : maxConfigBytes;
}

function tooLarge(name: string, size: number, cap: number): RpzError {
  return new RpzError(
    'member-too-large',
    `${name} is ${size} bytes, over the ${cap}-byte limit for package metadata.`,
    name
  );
}

/** Classifies a member; returns false for members this reader does not know. */
function note(
  layout: Layout,
  member: TarMember,
  seen: Set<string>,
  limits: ReadLimits
): 'version' | 'config' | 'trace' | 'trace-gz' | 'data' | 'other' {
  const special = [
    VERSION_MEMBER,
    CONFIG_MEMBER,
    TRACE_MEMBER,
    TRACE_GZ_MEMBER,
    DATA_MEMBER
  ];
  if (special.includes(member.name)) {
    if (seen.has(member.name)) {
      throw new RpzError(
        'duplicate-entry',
        `The package holds ${member.name} twice, so it is ambiguous.`,
        member.name
      );
    }
    seen.add(member.name);
    if (member.kind !== 'file') {
      throw new RpzError(
        'corrupt-tar',
        `${member.name} is not a regular file in the package.`,
        member.name
      );
    }
  }
  switch (member.name) {
    case VERSION_MEMBER:
      return 'version';
    case CONFIG_MEMBER:
      return 'config';
    case TRACE_MEMBER:
      return 'trace';
    case TRACE_GZ_MEMBER:
      return 'trace-gz';
    case DATA_MEMBER:
      layout.dataSize = member.size;
      return 'data';
  }
  if (member.name === 'DATA' || member.name.startsWith('DATA/')) {
    layout.hasDataDir = true;
  } else if (member.name.startsWith('EXTENSIONS/')) {
    const end = member.name.indexOf('/', 'EXTENSIONS/'.length);
    const name = member.name.slice(
      'EXTENSIONS/'.length,
      end === -1 ? undefined : end
    );
    if (name !== '' && !seenExtensions(layout).has(name)) {
      if (layout.extensions.length >= limits.maxExtensions) {
        throw overLimit(
          'extensions (names under EXTENSIONS/)',
          'maxExtensions',
          limits.maxExtensions,
          member.name
        );
      }
      seenExtensions(layout).add(name);
      layout.extensions.push(name);
    }
  } else if (member.name !== 'METADATA' && member.name !== 'EXTENSIONS') {
    addWarning(
      layout.warnings,
      `The package holds an unexpected member ${member.name}; it is ignored.`,
      limits.maxWarnings
    );
  }
  return 'other';
}

/** The extension names seen so far, as a set (a list lookup per member would be quadratic). */
const extensionSets = new WeakMap<Layout, Set<string>>();
function seenExtensions(layout: Layout): Set<string> {
  let set = extensionSets.get(layout);
  if (set === undefined) {
    set = new Set(layout.extensions);
    extensionSets.set(layout, set);
  }
  return set;
}

/** Counts outer members against `maxEntries` (a v1 package holds its data there). */
function counter(limits: ReadLimits): () => void {
  let members = 0;
  return () => {
    if (++members > limits.maxEntries) {
      throw overLimit(
        'members in its outer archive',
        'maxEntries',
        limits.maxEntries
      );
    }
  };
}

async function collect(
  body: Readable | null,
  name: string,
  cap: number
): Promise<string> {
  if (body === null) {
    return '';
  }
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > cap) {
      throw tooLarge(name, total, cap);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

function emptyLayout(encoding: OuterEncoding, fileSize: number): Layout {
  return {
    encoding,
    fileSize,
    versionText: null,
    configText: null,
    dataMember: null,
    dataSize: null,
    hasDataDir: false,
    trace: null,
    traceProblem: null,
    extensions: [],
    warnings: []
  };
}

/** Reads the layout of the package open as `file` (at `path`). Throws RpzError. */
export async function readLayout(
  file: PositionalFile,
  path: string,
  fileSize: number,
  options: LayoutOptions
): Promise<Layout> {
  const encoding = await sniffContainer(file, fileSize);
  const maxConfig = options.maxConfigBytes ?? DEFAULT_MAX_CONFIG_BYTES;
  const layout = emptyLayout(encoding, fileSize);
  const limits = options.readLimits ?? readLimits();
  const count = counter(limits);
  const seen = new Set<string>();
  if (encoding === 'tar') {
    for await (const member of walkTar(file, fileSize, limits)) {
      count();
      const kind = note(layout, member, seen, limits);
      if (kind === 'version' || kind === 'config') {
        const cap = metadataCap(member.name, maxConfig);
        if (member.size > cap) {
          throw tooLarge(member.name, member.size, cap);
        }
        const text = (
          await readAt(file, member.dataOffset, member.size)
        ).toString('utf8');
        if (kind === 'version') {
          layout.versionText = text;
        } else {
          layout.configText = text;
        }
      } else if (kind === 'data') {
        layout.dataMember = { offset: member.dataOffset, size: member.size };
      } else if (
        (kind === 'trace' || kind === 'trace-gz') &&
        options.trace !== undefined
      ) {
        if (
          kind === 'trace' &&
          member.size <=
            Math.min(options.trace.inMemoryBytes, limits.maxTraceBytes) &&
          layout.trace === null &&
          layout.traceProblem === null
        ) {
          // A small trace is summarised from memory: no scratch file to write and remove.
          layout.trace = {
            bytes: await readAt(file, member.dataOffset, member.size)
          };
          continue;
        }
        const source =
          member.size === 0
            ? Readable.from([])
            : createReadStream(path, {
                start: member.dataOffset,
                end: member.dataOffset + member.size - 1
              });
        await copyTrace(
          layout,
          source,
          member,
          kind === 'trace-gz',
          options.trace,
          limits
        );
      }
    }
    return layout;
  }
  // Gzip outer tar (v1, or v2 from ReproZip 1.0.0–1.0.5): stream it once.
  const chunks = gunzipGuarded(
    createReadStream(path, { highWaterMark: 1024 * 1024 }),
    'the package',
    options.limits
  );
  let first = true;
  try {
    for await (const member of parseTar(chunks, { limits })) {
      first = false;
      count();
      const kind = note(layout, member, seen, limits);
      if (kind === 'version' || kind === 'config') {
        const cap = metadataCap(member.name, maxConfig);
        if (member.size > cap) {
          throw tooLarge(member.name, member.size, cap);
        }
        const text = await collect(member.body, member.name, cap);
        if (kind === 'version') {
          layout.versionText = text;
        } else {
          layout.configText = text;
        }
      } else if (
        (kind === 'trace' || kind === 'trace-gz') &&
        options.trace !== undefined
      ) {
        await copyTrace(
          layout,
          member.body ?? Readable.from([]),
          member,
          kind === 'trace-gz',
          options.trace,
          limits
        );
      }
    }
  } catch (error) {
    // A gzip file whose content is not a tar fails at the first header: say what it is instead.
    const tarFailure =
      error instanceof RpzError &&
      (error.code === 'corrupt-tar' ||
        (error.code === 'truncated' && error.message.includes('tar header')));
    if (first && tarFailure) {
      throw new RpzError(
        'not-a-package',
        'Not a ReproZip package: the gzip data does not hold a tar archive.'
      );
    }
    throw error;
  }
  return layout;
}

/**
 * Whether a trace was met before `member` (both trace.sqlite3 and trace.sqlite3.gz): the first is
 * kept, and this one ignored with a warning.
 */
function isSecondTrace(
  layout: Layout,
  member: TarMember,
  limits: ReadLimits
): boolean {
  if (layout.trace === null && layout.traceProblem === null) {
    return false;
  }
  addWarning(
    layout.warnings,
    `The package holds a second trace database, ${member.name}; it is ignored.`,
    limits.maxWarnings
  );
  return true;
}

/**
 * Copies the trace to `target.file()` (in a private scratch folder), decompressing a `.gz` one through the
 * gzip-bomb guard, at most `maxTraceBytes` either way. A trace too big or not valid gzip is
 * informational damage, not a broken package: it is noted in `traceProblem` and not copied. A
 * failure of the package stream (truncation) or of the scratch disk (ENOSPC) still fails.
 */
async function copyTrace(
  layout: Layout,
  source: Readable,
  member: TarMember,
  gzipped: boolean,
  target: TraceTarget,
  limits: ReadLimits
): Promise<void> {
  const cap = limits.maxTraceBytes;
  if (isSecondTrace(layout, member, limits)) {
    source.destroy();
    return;
  }
  if (!gzipped && member.size > cap) {
    source.destroy();
    layout.traceProblem = `${member.name} is ${member.size} bytes, over the limit maxTraceBytes (${cap})`;
    return;
  }
  let sourceFailed = false;
  source.once('error', () => {
    sourceFailed = true;
  });
  const copy = await target.file();
  // Loaded here: a small plain trace is read from memory, without the stream pipeline's modules.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { pipeline } = require('node:stream/promises') as typeof StreamPromises;
  const out = createWriteStream(copy, { flags: 'wx', mode: 0o600 });
  try {
    await pipeline(
      gzipped
        ? Readable.from(
            gunzipGuarded(source, member.name, {
              maxBytes: cap,
              ratioGraceBytes: Math.min(cap, 64 * 1024 * 1024)
            })
          )
        : source,
      out
    );
    layout.trace = { file: copy };
  } catch (error) {
    if (
      gzipped &&
      !sourceFailed &&
      error instanceof RpzError &&
      error.member === member.name
    ) {
      // The guard names its own option; the limit to raise here is maxTraceBytes.
      layout.traceProblem =
        error.code === 'size-limit' && error.message.includes('(maxBytes)')
          ? `${member.name} expands to more than ${cap} bytes, over the limit maxTraceBytes`
          : error.message.replace(/\.$/, '');
      return;
    }
    throw error;
  }
}
