/**
 * NUL-terminated records out of a byte stream (what `find -printf '…\0'` writes), one at a time.
 * A listing of a run's tree is as long as the run made it: at most one record is held, and a
 * record longer than the caller allows ends the listing with `RecordTooLongError`.
 */

export class RecordTooLongError extends Error {}

/**
 * Yields each record of `source` (its bytes as they are, without its NUL: a file name need not
 * be UTF-8), in order; what follows the last NUL is a record too. Throws `RecordTooLongError` as
 * soon as a record passes `maxRecordBytes`.
 */
export async function* nulRecords(
  source: AsyncIterable<Buffer>,
  maxRecordBytes: number
): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const keep = (piece: Buffer): void => {
    if (pendingBytes + piece.length > maxRecordBytes) {
      throw new RecordTooLongError(
        `a record is longer than ${maxRecordBytes} bytes`
      );
    }
    // A copy: the rest of the chunk must not be kept alive by a slice of it.
    pending.push(Buffer.from(piece));
    pendingBytes += piece.length;
  };
  const take = (): Buffer => {
    const record = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    return record;
  };
  for await (const chunk of source) {
    let start = 0;
    for (
      let end = chunk.indexOf(0, start);
      end !== -1;
      end = chunk.indexOf(0, start)
    ) {
      keep(chunk.subarray(start, end));
      start = end + 1;
      yield take();
    }
    if (start < chunk.length) {
      keep(chunk.subarray(start));
    }
  }
  if (pendingBytes > 0) {
    yield take();
  }
}
