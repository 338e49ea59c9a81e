import {
  checkedExecId,
  Demuxer
} from '../../../src/backends/docker/attached-exec';

function dockerFrame(stream: number, text: string): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(Buffer.byteLength(text), 4);
  return Buffer.concat([header, Buffer.from(text)]);
}

describe('Demuxer (the engine’s attached streams)', () => {
  it('splits stdout from stderr whatever the chunks, holding only headers', () => {
    const whole = Buffer.concat([
      dockerFrame(1, 'out 1\n'),
      dockerFrame(2, 'err\n'),
      dockerFrame(1, 'out 2\n')
    ]);
    for (const size of [1, 3, 8, 9, whole.length]) {
      const got: Record<number, string> = { 1: '', 2: '' };
      const demux = new Demuxer((stream, bytes) => (got[stream] += bytes));
      for (let at = 0; at < whole.length; at += size) {
        demux.push(whole.subarray(at, at + size));
      }
      expect(got).toEqual({ 1: 'out 1\nout 2\n', 2: 'err\n' });
    }
  });

  it('refuses a stream kind the engine never sends', () => {
    expect(() =>
      new Demuxer(() => undefined).push(dockerFrame(3, 'x'))
    ).toThrow(/unknown kind 3/);
  });
});

describe('checkedExecId', () => {
  it('lets only 64 hex digits into an API path', () => {
    const id = 'a'.repeat(64);
    expect(checkedExecId(id)).toBe(id);
    for (const bad of ['../containers/x', 'A'.repeat(64), 'a'.repeat(63), 42]) {
      expect(() => checkedExecId(bad)).toThrow(/not 64 hex digits/);
    }
  });
});
