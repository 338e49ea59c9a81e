/**
 * The one way this module talks to remote servers: HTTPS GET with bounds. Redirects are followed
 * a bounded number of times and only to https (never down to http); the connection must be made
 * within a deadline, and an answer that stays silent longer than the idle deadline is dropped.
 * Certificates are checked against Node's CA store (plus `NODE_EXTRA_CA_CERTS`): nothing here can
 * turn the check off.
 *
 * Every failure becomes a `DomainError` with one sentence: `tls-error`, `download-timeout` or
 * `download-failed`.
 */
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { DomainError } from '../errors';
import { SERVER_VERSION } from '../version';
import { shorten } from './source';

export interface HttpLimits {
  /** Milliseconds to connect (TCP and TLS). */
  connectMs: number;
  /** Milliseconds without a byte before the exchange is dropped. */
  idleMs: number;
  /** Redirects followed at most. */
  maxRedirects: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  connectMs: 15_000,
  idleMs: 30_000,
  maxRedirects: 8
};

/** The limits from `REPROSERVER_FETCH_{CONNECT,IDLE}_TIMEOUT_SECONDS`, defaults elsewhere. */
export function httpLimitsFromEnv(
  env: Record<string, string | undefined> = process.env
): HttpLimits {
  const seconds = (name: string, fallback: number): number => {
    const text = env[name];
    if (text === undefined || text === '') {
      return fallback;
    }
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0 || value > 3600) {
      throw new Error(
        `Invalid ${name} "${text}": give a number of seconds from 0 to 3600.`
      );
    }
    return Math.round(value * 1000);
  };
  return {
    ...DEFAULT_HTTP_LIMITS,
    connectMs: seconds(
      'REPROSERVER_FETCH_CONNECT_TIMEOUT_SECONDS',
      DEFAULT_HTTP_LIMITS.connectMs
    ),
    idleMs: seconds(
      'REPROSERVER_FETCH_IDLE_TIMEOUT_SECONDS',
      DEFAULT_HTTP_LIMITS.idleMs
    )
  };
}

/** Thrown by our own deadlines, so that `describeFailure` can tell them from the network's. */
export class DeadlineError extends Error {}

/** TLS failures' codes: Node's and OpenSSL's. */
const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;

/** The one sentence a failed exchange with `url` gets. */
export function describeFailure(error: unknown, url: string): DomainError {
  if (error instanceof DomainError) {
    return error;
  }
  const host = hostOf(url);
  if (error instanceof DeadlineError) {
    return new DomainError(
      'download-timeout',
      `${host} ${error.message}; try again later.`
    );
  }
  const code = (error as { code?: unknown }).code;
  const text = (error as { message?: unknown }).message;
  if (typeof code === 'string' && TLS_CODE.test(code)) {
    return new DomainError(
      'tls-error',
      `The secure connection to ${host} failed (${code}): its certificate is not trusted here.`
    );
  }
  return new DomainError(
    'download-failed',
    `The connection to ${host} failed (${typeof code === 'string' ? code : String(text)}); check the address and try again.`
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return shorten(url);
  }
}

/**
 * Resets a deadline each time `touch` is called; when it passes, `onExpire` runs with a
 * `DeadlineError` saying what was awaited.
 */
export class IdleTimer {
  constructor(
    private readonly ms: number,
    private readonly onExpire: (error: DeadlineError) => void
  ) {
    this.touch();
  }

  touch(): void {
    clearTimeout(this._timer);
    this._timer = setTimeout(
      () =>
        this.onExpire(
          new DeadlineError(`sent nothing for ${this.ms / 1000} seconds`)
        ),
      this.ms
    );
  }

  stop(): void {
    clearTimeout(this._timer);
  }

  private _timer: NodeJS.Timeout | undefined;
}

export interface Opened {
  response: IncomingMessage;
  /** The URL that answered, after redirects. */
  url: string;
}

/**
 * GETs `url`, following redirects; resolves with the first answer that is not a redirect, its body
 * unread (the caller reads or destroys it). The idle deadline is the caller's once the headers are in.
 */
export async function openGet(
  url: string,
  limits: HttpLimits,
  options: { headers?: Record<string, string>; signal?: AbortSignal } = {}
): Promise<Opened> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const target = new URL(current);
    if (target.protocol !== 'https:') {
      throw new DomainError(
        'download-failed',
        `${shorten(url)} redirects to ${shorten(current)}, which is not https: it is not followed.`
      );
    }
    const response = await getOnce(target, limits, options);
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (status >= 300 && status < 400 && status !== 304 && location) {
      response.resume();
      if (hop >= limits.maxRedirects) {
        throw new DomainError(
          'download-failed',
          `${shorten(url)} redirects more than ${limits.maxRedirects} times; it is not followed further.`
        );
      }
      current = new URL(location, target).href;
      continue;
    }
    return { response, url: current };
  }
}

/** One GET: resolves with the answer's headers, within the connect and idle deadlines. */
function getOnce(
  url: URL,
  limits: HttpLimits,
  options: { headers?: Record<string, string>; signal?: AbortSignal }
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'GET',
      headers: {
        'user-agent': `reproserver/${SERVER_VERSION}`,
        ...options.headers
      },
      signal: options.signal
    });
    let connected = false;
    const connectTimer = setTimeout(() => {
      if (!connected) {
        req.destroy(
          new DeadlineError(
            `did not answer the connection within ${Math.round(limits.connectMs / 1000)} seconds`
          )
        );
      }
    }, limits.connectMs);
    const idle = new IdleTimer(limits.idleMs, error => req.destroy(error));
    req.on('socket', socket => {
      socket.once('secureConnect', () => {
        connected = true;
        idle.touch();
      });
    });
    req.once('response', response => {
      connected = true;
      clearTimeout(connectTimer);
      idle.stop();
      resolve(response);
    });
    req.once('error', error => {
      clearTimeout(connectTimer);
      idle.stop();
      reject(error);
    });
    req.end();
  });
}

/** Largest JSON answer of an API read, bytes: records with thousands of files fit. */
export const MAX_JSON_BYTES = 8 * 1024 * 1024;

/** A JSON answer: its status and its parsed body (undefined when not JSON). */
export interface JsonAnswer {
  status: number;
  body: unknown;
}

/** GETs a JSON document of an API, bounded in size and time. */
export async function getJson(
  url: string,
  limits: HttpLimits,
  signal?: AbortSignal
): Promise<JsonAnswer> {
  let opened: Opened;
  try {
    opened = await openGet(url, limits, {
      headers: { accept: 'application/json' },
      signal
    });
  } catch (error) {
    throw describeFailure(error, url);
  }
  const { response } = opened;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      const idle = new IdleTimer(limits.idleMs, error =>
        response.destroy(error)
      );
      response.on('data', (chunk: Buffer) => {
        idle.touch();
        size += chunk.length;
        if (size > MAX_JSON_BYTES) {
          response.destroy(
            new DomainError(
              'download-failed',
              `${hostOf(url)} answered more than ${MAX_JSON_BYTES / 1024 / 1024} MiB for ${shorten(url)}; it is not read.`
            )
          );
          return;
        }
        chunks.push(chunk);
      });
      response.once('end', () => {
        idle.stop();
        resolve();
      });
      response.once('error', error => {
        idle.stop();
        reject(error);
      });
      response.once('close', () => {
        idle.stop();
        if (!response.complete) {
          reject(new Error('the answer was cut'));
        }
      });
    });
  } catch (error) {
    throw describeFailure(error, url);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    body = undefined;
  }
  return { status: response.statusCode ?? 0, body };
}
