/**
 * A file read at given positions, the only access the package reader needs: through node:fs's
 * callbacks, since loading node:fs/promises (with the readline and watcher modules it brings) was
 * about 3 ms of a small package's first `reproserver inspect` (bench/cli/startup.mjs). A
 * `FileHandle` of node:fs/promises is one too, so callers that hold one pass it as it is.
 */
import { close, fstat, mkdir, mkdtemp, open, read, rm } from 'node:fs';

/** What the tar walk, the sniffing and the layout read of a package use of an open file. */
export interface PositionalFile {
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number | null
  ): Promise<{ bytesRead: number }>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

/** Settles with node:fs's callback (error first) as a promise does. */
function settle<T>(
  resolve: (value: T) => void,
  reject: (error: Error) => void
): (error: Error | null, value: T) => void {
  return (error, value) => (error ? reject(error) : resolve(value));
}

/** Opens `path` read-only. */
export function openForReading(path: string): Promise<PositionalFile> {
  return new Promise<number>((resolve, reject) =>
    open(path, 'r', settle(resolve, reject))
  ).then(fd => ({
    read: (buffer, offset, length, position) =>
      new Promise((resolve, reject) =>
        read(fd, buffer, offset, length, position, (error, bytesRead) =>
          error ? reject(error) : resolve({ bytesRead })
        )
      ),
    stat: () =>
      new Promise((resolve, reject) => fstat(fd, settle(resolve, reject))),
    close: () =>
      new Promise((resolve, reject) =>
        close(fd, error => (error ? reject(error) : resolve()))
      )
  }));
}

/** `mkdir -p` with a mode, as node:fs/promises' `mkdir`. */
export function makeFolder(path: string, mode: number): Promise<void> {
  return new Promise((resolve, reject) =>
    mkdir(path, { recursive: true, mode }, error =>
      error ? reject(error) : resolve()
    )
  );
}

/** A new private (0700) folder named `prefix` and six random characters. */
export function makeTemporaryFolder(prefix: string): Promise<string> {
  return new Promise((resolve, reject) =>
    mkdtemp(prefix, settle(resolve, reject))
  );
}

/** Removes `path` and what it holds, if it exists. */
export function removeTree(path: string): Promise<void> {
  return new Promise((resolve, reject) =>
    rm(path, { recursive: true, force: true }, error =>
      error ? reject(error) : resolve()
    )
  );
}
