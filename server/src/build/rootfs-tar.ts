/**
 * Turns the package's normalized entry stream into a tar stream, generated on the fly: nothing is
 * written to disk and no file is held in memory whole (bodies are piped through chunk by chunk,
 * waiting for the consumer when it is slower). What is written is exactly what the reader yielded:
 * numeric uid/gid, mode bits (setuid included), mtimes, symlink targets verbatim, hard links as
 * links to their root-relative target.
 */
import { posix } from 'node:path';
import * as tar from 'tar-stream';
import type { FsEntry } from '../rpz';

export interface RootfsTarOptions {
  /** Put every entry below this folder (e.g. `rootfs/` in a build context); default: none. */
  prefix?: string;
  /** Called for each entry that is left out, with the reason. */
  onWarning?: (message: string) => void;
}

/**
 * Docker treats `.wh.*` names in a layer as whiteouts (deletions), so such a file cannot be stored
 * in an image as itself; writing it would even delete a sibling the package brought.
 */
export function isWhiteout(path: string): boolean {
  return posix.basename(path).startsWith('.wh.');
}

/** File-type bits, so that mode 0 survives tar-stream (it replaces a falsy mode by 644/755). */
const TYPE_BITS = {
  directory: 0o040000,
  file: 0o100000,
  symlink: 0o120000,
  hardlink: 0o100000
} as const;

/** The attributes an inode gets from its tar header. */
interface InodeAttributes {
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
}

function header(
  entry: FsEntry,
  prefix: string,
  inode: InodeAttributes = entry
): tar.Header {
  const common = {
    name: prefix + entry.path,
    // tar-stream keeps only the permission bits (& 0o7777) when it encodes the header.
    mode: inode.mode | TYPE_BITS[entry.type],
    uid: inode.uid,
    gid: inode.gid,
    uname: inode.uname,
    gname: inode.gname,
    mtime: new Date(inode.mtime * 1000),
    devmajor: 0,
    devminor: 0,
    // A ustar header holds whole seconds; a pax record keeps the fraction ReproZip recorded.
    ...(Number.isInteger(inode.mtime)
      ? {}
      : { pax: { mtime: String(inode.mtime) } })
  };
  switch (entry.type) {
    case 'directory':
      return { ...common, type: 'directory', size: 0, linkname: '' };
    case 'file':
      return { ...common, type: 'file', size: entry.size, linkname: '' };
    case 'symlink':
      return { ...common, type: 'symlink', size: 0, linkname: entry.target };
    case 'hardlink':
      return {
        ...common,
        type: 'link',
        size: 0,
        linkname: prefix + entry.target
      };
  }
}

function waitDrainOrClose(
  sink: tar.Pack | ReturnType<tar.Pack['entry']>
): Promise<void> {
  return new Promise(resolve => {
    const done = (): void => {
      sink.off('drain', done);
      sink.off('close', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('close', done);
  });
}

/** Why writing stopped when the consumer, not the package, ended it. */
export class TarAbortedError extends Error {
  constructor() {
    super('The tar stream was closed before the end.');
    this.name = 'TarAbortedError';
  }
}

async function writeEntry(
  pack: tar.Pack,
  entry: FsEntry,
  prefix: string,
  inode?: InodeAttributes
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    // A pack destroyed mid-entry never calls back: stop waiting when it closes.
    const onClose = (): void => reject(new TarAbortedError());
    pack.once('close', onClose);
    const callback = (error?: Error | null): void => {
      pack.off('close', onClose);
      if (error) {
        reject(error);
      } else {
        resolve();
      }
    };
    if (entry.type !== 'file') {
      pack.entry(header(entry, prefix, inode), callback).end(undefined);
      return;
    }
    const sink = pack.entry(header(entry, prefix), callback);
    // A body that fails destroys the entry with its error, which is reported through `reject`:
    // an 'error' event without a listener would take the whole process down.
    sink.on('error', () => undefined);
    (async () => {
      for await (const chunk of entry.body) {
        if (sink.destroyed) {
          break;
        }
        if (!sink.write(chunk as Buffer)) {
          await waitDrainOrClose(sink);
        }
      }
      sink.end(undefined);
    })().catch((error: unknown) => {
      sink.destroy(error as Error);
      reject(error);
    });
  });
}

/**
 * A tar stream of `entries`. The tar ends when the entries do; a failure of the entry stream (an
 * `RpzError`) destroys the tar stream with that error, so a consumer never sees a complete-looking
 * archive of a damaged package. `done` settles when writing has stopped, with that same error;
 * call `abort` when the consumer gives up, so that writing stops too.
 */
export function rootfsTar(
  entries: AsyncIterable<FsEntry>,
  options: RootfsTarOptions = {}
): { tar: NodeJS.ReadableStream; done: Promise<void>; abort(): void } {
  const pack = tar.pack();
  const prefix = options.prefix ?? '';
  const skipped = new Set<string>();
  // The engine applies a hard link's header to the inode it shares with its target, so a link
  // whose header disagrees would change the file's mode or owner; links are written with their
  // target's attributes instead (the file entry is the truth, as for tar and rpztar).
  const files = new Map<string, InodeAttributes>();
  const done = (async () => {
    try {
      if (prefix !== '') {
        pack.entry({ name: prefix, type: 'directory', mode: 0o755 }, '');
      }
      for await (const entry of entries) {
        if (pack.destroyed) {
          throw new TarAbortedError();
        }
        if (
          isWhiteout(entry.path) ||
          (entry.type === 'hardlink' && skipped.has(entry.target))
        ) {
          skipped.add(entry.path);
          options.onWarning?.(
            `/${entry.path} is left out: Docker reserves names starting with ".wh." for deleted files.`
          );
          if (entry.type === 'file') {
            entry.body.resume();
          }
          continue;
        }
        if (entry.type === 'file') {
          const { mode, uid, gid, uname, gname, mtime } = entry;
          files.set(entry.path, { mode, uid, gid, uname, gname, mtime });
        }
        await writeEntry(
          pack,
          entry,
          prefix,
          entry.type === 'hardlink' ? files.get(entry.target) : undefined
        );
      }
      pack.finalize();
    } catch (error) {
      if (!pack.destroyed) {
        pack.destroy(error as Error);
      }
      throw error;
    }
  })();
  // The consumer learns of failures through the stream; keep `done` from being an unhandled
  // rejection when nobody awaits it.
  done.catch(() => undefined);
  return {
    // A streamx stream: `pipe` works into Node writables, which is all the engine client does.
    tar: pack as unknown as NodeJS.ReadableStream,
    done,
    /** Stops writing (the consumer failed); `done` then rejects with a `TarAbortedError`. */
    abort(): void {
      if (!pack.destroyed) {
        pack.destroy(new TarAbortedError());
      }
    }
  };
}
