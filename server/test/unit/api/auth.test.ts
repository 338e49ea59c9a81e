import type { IncomingMessage } from 'node:http';
import { checkOrigin, checkToken } from '../../../src/api/auth';

const req = (headers: Record<string, string>): IncomingMessage =>
  ({ headers }) as unknown as IncomingMessage;

describe('checkToken', () => {
  it.each([
    [{ 'x-reproserver-token': 'secret' }],
    [{ authorization: 'token secret' }],
    [{ authorization: 'Token   secret' }]
  ])('accepts %j', headers => {
    expect(() => checkToken(req(headers), 'secret')).not.toThrow();
  });

  it.each([
    [{}, 'This request has no token'],
    [{ 'x-reproserver-token': 'secre' }, 'wrong'],
    [{ 'x-reproserver-token': 'secret2' }, 'wrong'],
    [{ authorization: 'Bearer secret' }, 'no token']
  ])('refuses %j', (headers, message) => {
    expect(() => checkToken(req(headers), 'secret')).toThrow(
      expect.objectContaining({
        status: 401,
        message: expect.stringContaining(message)
      })
    );
  });
});

describe('checkToken on a WebSocket upgrade', () => {
  const offered = (token: string): string =>
    `reproserver, reproserver.token.${Buffer.from(token).toString('base64url')}`;

  it('accepts the token offered as a subprotocol, on sockets only', () => {
    const headers = { 'sec-websocket-protocol': offered('sécret') };
    expect(() =>
      checkToken(req(headers), 'sécret', { socket: true })
    ).not.toThrow();
    // A plain HTTP request has no business sending it: refused there.
    expect(() => checkToken(req(headers), 'sécret')).toThrow(
      expect.objectContaining({ status: 401 })
    );
  });

  it.each([
    [offered('other'), 'wrong'],
    ['reproserver', 'no token'],
    ['reproserver, reproserver.token.not+base64url', 'no token']
  ])('refuses %j', (protocols, message) => {
    expect(() =>
      checkToken(req({ 'sec-websocket-protocol': protocols }), 'secret', {
        socket: true
      })
    ).toThrow(
      expect.objectContaining({
        status: 401,
        message: expect.stringContaining(message)
      })
    );
  });
});

describe('checkOrigin', () => {
  it('lets requests without Origin through (same-origin GETs, the CLI)', () => {
    expect(() => checkOrigin(req({ host: 'localhost:1' }))).not.toThrow();
  });

  it('accepts the host the request was sent to, or the proxy forwarded', () => {
    expect(() =>
      checkOrigin(
        req({ host: '127.0.0.1:8888', origin: 'http://127.0.0.1:8888' })
      )
    ).not.toThrow();
    expect(() =>
      checkOrigin(
        req({
          host: 'localhost:9',
          'x-forwarded-host': 'hub.example',
          origin: 'https://hub.example'
        })
      )
    ).not.toThrow();
  });

  it.each([['http://evil.example'], ['null'], ['not a url']])(
    'refuses Origin %s',
    origin => {
      expect(() =>
        checkOrigin(req({ host: '127.0.0.1:8888', origin }))
      ).toThrow(expect.objectContaining({ status: 403, code: 'cross-origin' }));
    }
  );
});
