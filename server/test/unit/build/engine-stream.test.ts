import { Readable } from 'node:stream';
import {
  engineMessage,
  EngineStreamError,
  followEngineStream
} from '../../../src/build/engine-stream';

describe('followEngineStream', () => {
  it('parses JSON lines split anywhere, multi-byte characters included', async () => {
    const text =
      '{"status":"Pulling fs layer","id":"a"}\n{"status":"réussi ✓"}\n{"stream":"x"}';
    const bytes = Buffer.from(text);
    // One byte at a time: lines and characters are cut in every possible place.
    const chunks = [...bytes].map(b => Buffer.from([b]));
    const seen: string[] = [];
    const messages = await followEngineStream(Readable.from(chunks), m =>
      seen.push(m.status ?? m.stream ?? '')
    );
    expect(messages).toHaveLength(3);
    expect(seen).toEqual(['Pulling fs layer', 'réussi ✓', 'x']);
  });

  it('rejects with the engine sentence when the stream reports an error in-band', async () => {
    const stream = Readable.from([
      '{"status":"Loading"}\n',
      '{"errorDetail":{"message":"write /x: no space left on device"},"error":"write /x: no space left on device"}\n'
    ]);
    const failure = followEngineStream(stream);
    await expect(failure).rejects.toBeInstanceOf(EngineStreamError);
    await expect(failure).rejects.toThrow('no space left on device');
  });
});

describe('engineMessage', () => {
  it('takes the engine sentence out of a docker-modem error', () => {
    expect(
      engineMessage(
        Object.assign(
          new Error(
            '(HTTP code 500) server error - Get "http://127.0.0.1:1/v2/": connection refused '
          ),
          { statusCode: 500, json: null }
        )
      )
    ).toBe('Get "http://127.0.0.1:1/v2/": connection refused');
    expect(
      engineMessage({ json: { message: 'No such image: x:1' }, message: 'x' })
    ).toBe('No such image: x:1');
    expect(engineMessage('plain')).toBe('plain');
  });
});
