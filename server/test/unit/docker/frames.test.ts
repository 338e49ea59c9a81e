import {
  FrameError,
  FrameParser,
  MAX_FRAME_BYTES,
  type FollowRecord
} from '../../../src/backends/docker/frames';

function record(kind: number, content: string | Buffer): Buffer {
  const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
  const header = Buffer.alloc(5);
  header[0] = kind;
  header.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([header, bytes]);
}

function text(records: FollowRecord[]): string[] {
  return records.map(r =>
    r.kind === 'log' ? `${r.stream}:${r.bytes.toString()}` : JSON.stringify(r)
  );
}

describe('FrameParser', () => {
  it('cuts a stream into frames, keeping their order and streams, then the last record', () => {
    const parser = new FrameParser();
    const records = parser.push(
      Buffer.concat([record(1, 'out\n'), record(2, 'err\n'), record(3, '7\n')])
    );
    expect(text(records)).toEqual([
      'stdout:out\n',
      'stderr:err\n',
      JSON.stringify({ kind: 'end', exitCode: 7 })
    ]);
    expect(parser.pendingBytes).toBe(0);
    expect(parser.finished).toBe(true);
  });

  it('gives the same frames whatever the chunks, byte by byte included', () => {
    const whole = Buffer.concat([record(1, 'héllo'), record(2, 'wörld\n')]);
    const parser = new FrameParser();
    const got: string[] = [];
    for (let i = 0; i < whole.length; i++) {
      // The parser must not keep references into a chunk the caller reuses.
      const chunk = Buffer.from(whole.subarray(i, i + 1));
      got.push(...text(parser.push(chunk)));
      chunk.fill(0);
    }
    expect(got).toEqual(['stdout:héllo', 'stderr:wörld\n']);
  });

  it('reads the follower’s last records strictly', () => {
    const last = (kind: number, content: string): FollowRecord =>
      new FrameParser().push(record(kind, content))[0];
    expect(last(4, 'its helper was killed\u0007')).toEqual({
      kind: 'lost',
      reason: 'its helper was killed?'
    });
    expect(last(5, '')).toEqual({ kind: 'not-started' });
    for (const bad of ['256\n', '-1\n', '1', ' 1\n', '1\n\n', '0x1\n']) {
      expect(() => last(3, bad)).toThrow(FrameError);
    }
  });

  it('refuses bytes that are not frames, naming where', () => {
    const parser = new FrameParser();
    parser.push(record(1, 'ok'));
    expect(() => parser.push(Buffer.from([10, 0, 0, 0, 0]))).toThrow(
      new FrameError("The step's log has an unknown record kind 10 at byte 7.")
    );
  });

  it('refuses a frame longer than the helper writes before buffering any of it', () => {
    const parser = new FrameParser();
    const header = Buffer.from([1, 0, 0, 0, 0]);
    header.writeUInt32BE(MAX_FRAME_BYTES + 1, 1);
    expect(() => parser.push(header)).toThrow(/65537 bytes at byte 0/);
    expect(() =>
      new FrameParser().push(Buffer.from([1, 0xff, 0xff, 0xff, 0xff]))
    ).toThrow(FrameError);
    // Empty frames are not the helper's either: they would cost without a byte of log.
    expect(() => new FrameParser().push(record(2, ''))).toThrow(FrameError);
  });

  it('refuses anything after the last record', () => {
    const parser = new FrameParser();
    expect(() =>
      parser.push(Buffer.concat([record(3, '0\n'), record(1, 'more')]))
    ).toThrow(/after its last record/);
  });

  it('takes a big log in small chunks in linear time', () => {
    // 64 MiB of full frames, fed 1 KiB at a time: a parser that copies what it holds on each
    // chunk would move about 2 GiB; this one copies each byte at most once.
    const frame = record(1, Buffer.alloc(MAX_FRAME_BYTES, 120));
    const parser = new FrameParser();
    let bytes = 0;
    const started = process.hrtime.bigint();
    for (let n = 0; n < 1024; n++) {
      for (let at = 0; at < frame.length; at += 1024) {
        for (const r of parser.push(frame.subarray(at, at + 1024))) {
          bytes += r.kind === 'log' ? r.bytes.length : 0;
        }
      }
    }
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(bytes).toBe(1024 * MAX_FRAME_BYTES);
    expect(ms).toBeLessThan(5000);
  });
});
