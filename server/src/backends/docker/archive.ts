import { once } from 'node:events';
import { Readable } from 'node:stream';
import { extract, pack } from 'tar-stream';

/** One regular file to put into a container. */
export interface FileToPut {
  /** Absolute path inside the container. */
  path: string;
  body: Readable;
  size: number;
  mode: number;
  uid: number;
  gid: number;
}

/**
 * A tar stream holding the given files (relative to `/`), streamed from their bodies one after
 * the other, for Docker's `PUT /containers/{id}/archive?path=/`. Missing parent directories are
 * created by the engine.
 */
export function tarOfFiles(files: FileToPut[]): Readable {
  const archive = pack();
  void (async () => {
    try {
      for (const file of files) {
        const entry = archive.entry({
          name: file.path.replace(/^\/+/, ''),
          size: file.size,
          mode: file.mode,
          uid: file.uid,
          gid: file.gid,
          type: 'file'
        });
        file.body.pipe(entry);
        await once(entry, 'finish');
      }
      archive.finalize();
    } catch (error) {
      archive.destroy(error as Error);
    }
  })();
  // tar-stream is built on streamx, whose streams pipe like Node's; wrap it so callers get one.
  return Readable.from(archive, { objectMode: false });
}

/** What the engine says about a file it copies out. */
export interface FileHeader {
  size: number;
  mode: number;
  uid: number;
  gid: number;
}

/**
 * Reads the first entry of a `GET /containers/{id}/archive` tar stream and hands a regular file's
 * body to `consume`. Resolves with 'not-a-file' (and stops reading) when it is anything else, for
 * example a directory whose whole subtree would otherwise be transferred.
 */
export function firstFileOfTar(
  tarStream: NodeJS.ReadableStream,
  consume: (body: Readable, header: FileHeader) => Promise<void>
): Promise<'file' | 'not-a-file'> {
  return new Promise((resolve, reject) => {
    const reader = extract();
    let settled = false;
    const finish = (result: 'file' | 'not-a-file'): void => {
      if (!settled) {
        settled = true;
        resolve(result);
      }
    };
    reader.on('entry', (header, body, next) => {
      if (settled || header.type !== 'file') {
        body.resume();
        finish('not-a-file');
        reader.destroy();
        (tarStream as Readable).destroy?.();
        return;
      }
      consume(Readable.from(body, { objectMode: false }), {
        size: header.size ?? 0,
        mode: (header.mode ?? 0) & 0o7777,
        uid: header.uid ?? 0,
        gid: header.gid ?? 0
      }).then(
        () => {
          finish('file');
          next();
        },
        (error: unknown) => {
          settled = true;
          reader.destroy();
          (tarStream as Readable).destroy?.();
          reject(error);
        }
      );
    });
    reader.on('finish', () => finish('not-a-file'));
    reader.on('error', error => {
      if (!settled) {
        settled = true;
        reject(error);
      }
    });
    tarStream.pipe(reader);
  });
}
