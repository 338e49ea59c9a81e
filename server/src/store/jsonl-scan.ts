import { open } from 'node:fs/promises';

const NEWLINE = 0x0a;
const CHUNK_BYTES = 64 * 1024;

/** What to do after a line: go on, or stop there (the next scan starts after this line). */
export type ScanControl = 'continue' | 'stop';

/**
 * Reads the complete lines of a file from byte `from`, a chunk at a time, and hands each to
 * `onLine` with the offset just past it (the buffer is reused once `onLine` returns). An unterminated last line (being written, or torn by a
 * crash) is not a line yet: it is left for a later scan. Resolves with the offset after the last
 * line handed over, where the next scan must start. Stops once `maxBytes` were handed over (at
 * least one line). A missing file reads as empty. Memory: one chunk plus the longest line.
 */
export async function scanLines(
  path: string,
  from: number,
  onLine: (line: Buffer, end: number) => ScanControl | Promise<ScanControl>,
  maxBytes = Infinity
): Promise<number> {
  const handle = await open(path, 'r').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return undefined;
    }
    throw error;
  });
  if (!handle) {
    return from;
  }
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    let partial: Buffer[] = [];
    let position = from;
    let lineStart = from;
    for (;;) {
      const { bytesRead } = await handle.read(chunk, 0, CHUNK_BYTES, position);
      if (bytesRead === 0) {
        return lineStart;
      }
      let start = 0;
      for (
        let newline = chunk.indexOf(NEWLINE, start);
        newline !== -1 && newline < bytesRead;
        newline = chunk.indexOf(NEWLINE, start)
      ) {
        const piece = chunk.subarray(start, newline);
        const line = partial.length
          ? Buffer.concat([...partial, piece])
          : piece;
        partial = [];
        start = newline + 1;
        lineStart = position + start;
        if (
          (await onLine(line, lineStart)) === 'stop' ||
          lineStart - from >= maxBytes
        ) {
          return lineStart;
        }
      }
      if (start < bytesRead) {
        // The chunk buffer is reused: keep a copy of the unfinished line.
        partial.push(Buffer.from(chunk.subarray(start, bytesRead)));
      }
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
}
