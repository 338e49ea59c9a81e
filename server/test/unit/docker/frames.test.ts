import { FrameError, FrameParser } from '../../../src/backends/docker/frames';

function frame(stream: 1 | 2, text: string): Buffer {
  const bytes = Buffer.from(text);
  const header = Buffer.alloc(5);
  header[0] = stream;
  header.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([header, bytes]);
}

describe('FrameParser', () => {
  it('cuts a stream into frames, keeping their order and streams', () => {
    const parser = new FrameParser();
    const frames = parser.push(
      Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n'), frame(1, '')])
    );
    expect(frames.map(f => [f.stream, f.bytes.toString()])).toEqual([
      ['stdout', 'out\n'],
      ['stderr', 'err\n'],
      ['stdout', '']
    ]);
    expect(parser.pendingBytes).toBe(0);
  });

  it('gives the same frames whatever the chunks, byte by byte included', () => {
    const whole = Buffer.concat([frame(1, 'héllo'), frame(2, 'wörld\n')]);
    const parser = new FrameParser();
    const got: string[] = [];
    for (let i = 0; i < whole.length; i++) {
      // The parser must not keep references into a chunk the caller reuses.
      const chunk = Buffer.from(whole.subarray(i, i + 1));
      for (const f of parser.push(chunk)) {
        got.push(`${f.stream}:${f.bytes.toString()}`);
      }
      chunk.fill(0);
    }
    expect(got).toEqual(['stdout:héllo', 'stderr:wörld\n']);
  });

  it('refuses bytes that are not frames, naming where', () => {
    const parser = new FrameParser();
    parser.push(frame(1, 'ok'));
    expect(() => parser.push(Buffer.from([7, 0, 0, 0, 0]))).toThrow(
      new FrameError("A step's log has an unknown stream 7 at byte 7.")
    );
  });
});
