import { timingSafeEqual, createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors';
import { EVENTS_SOCKET_TOKEN_PREFIX } from '../contract/wire';

/** Header the jupyter-server-proxy launcher injects, so the browser never needs to know the token. */
export const TOKEN_HEADER = 'x-reproserver-token';

/**
 * Checks the request's token in constant time. Accepted: `Authorization: token <t>` or
 * `X-ReproServer-Token: <t>`. A token in the URL is refused: URLs end up in logs and histories.
 */
export function checkToken(
  request: IncomingMessage,
  token: string,
  options: { socket?: boolean } = {}
): void {
  const given = requiredToken(request, options);
  if (!sameSecret(given, token)) {
    throw new ApiError('unauthorized', 'The token of this request is wrong.');
  }
}

/**
 * Who sent a request: undefined on a single-user server (its one token was checked), else the
 * name of the user whose token it carries. Throws `unauthorized` otherwise.
 */
export type Authenticator = (
  request: IncomingMessage,
  options?: { socket?: boolean }
) => string | undefined;

/** The server's one token (no users file): everyone who has it is the one user. */
export function tokenAuthenticator(token: string): Authenticator {
  return (request, options) => {
    checkToken(request, token, options);
    return undefined;
  };
}

/** A shared server: each user's token, looked up by its hash in the users file. */
export function usersAuthenticator(users: {
  identify(token: string): string | undefined;
}): Authenticator {
  return (request, options = {}) => {
    const user = users.identify(requiredToken(request, options));
    if (user === undefined) {
      throw new ApiError(
        'unauthorized',
        'The token of this request is not one of this server’s users; ask its administrator for yours.'
      );
    }
    return user;
  };
}

/** The token the request carries (a socket may offer it as a subprotocol); `unauthorized` if none. */
function requiredToken(
  request: IncomingMessage,
  options: { socket?: boolean }
): string {
  const given =
    presentedToken(request) ??
    (options.socket ? subprotocolToken(request) : undefined);
  if (given === undefined) {
    throw new ApiError(
      'unauthorized',
      'This request has no token. Send it in the X-ReproServer-Token header or as "Authorization: token …".'
    );
  }
  return given;
}

function presentedToken(request: IncomingMessage): string | undefined {
  const header = request.headers[TOKEN_HEADER];
  if (typeof header === 'string' && header.length > 0) {
    return header;
  }
  const authorization = request.headers.authorization;
  const match = authorization ? /^token\s+(\S+)$/i.exec(authorization) : null;
  return match ? match[1] : undefined;
}

/**
 * The token a browser offers as a WebSocket subprotocol (it cannot set headers there): the
 * entry `reproserver.token.<base64url>` of `Sec-WebSocket-Protocol`.
 */
function subprotocolToken(request: IncomingMessage): string | undefined {
  const offered = request.headers['sec-websocket-protocol'];
  if (typeof offered !== 'string') {
    return undefined;
  }
  for (const entry of offered.split(',')) {
    const protocol = entry.trim();
    if (protocol.startsWith(EVENTS_SOCKET_TOKEN_PREFIX)) {
      const encoded = protocol.slice(EVENTS_SOCKET_TOKEN_PREFIX.length);
      return /^[A-Za-z0-9_-]{1,1024}$/.test(encoded)
        ? Buffer.from(encoded, 'base64url').toString('utf8')
        : undefined;
    }
  }
  return undefined;
}

/** Compares digests so that neither the length nor the content leaks through timing. */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Refuses cross-site requests: when a browser says where the request comes from (Origin), that
 * origin must be the host the request was sent to. jupyter-server-proxy does not check XSRF for us.
 */
export function checkOrigin(request: IncomingMessage): void {
  const origin = request.headers.origin;
  if (origin === undefined || origin === 'null') {
    if (origin === 'null') {
      throw new ApiError(
        'cross-origin',
        'Requests from an opaque origin are refused.'
      );
    }
    return;
  }
  const forwardedHost = request.headers['x-forwarded-host'];
  const hosts = [
    request.headers.host,
    ...(typeof forwardedHost === 'string' ? forwardedHost.split(',') : [])
  ]
    .filter((h): h is string => typeof h === 'string')
    .map(h => h.trim().toLowerCase());
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    throw new ApiError(
      'cross-origin',
      `The request's Origin "${origin}" is not a URL.`
    );
  }
  if (!hosts.includes(originHost)) {
    throw new ApiError(
      'cross-origin',
      `Cross-origin request from ${origin} refused: only pages served by this JupyterLab may call the server.`
    );
  }
}
