import type { ServerResponse } from 'node:http';
import { DomainError, RetryLaterError } from '../errors';
import { errorAnswer } from './errors';

/** Sends a JSON body with the given status. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store'
  });
  response.end(text);
}

/**
 * Turns anything thrown by a handler into the API's error shape, its status from the one table of
 * `errors.ts`; never leaks a stack trace. What is not a domain error is logged: it is our fault.
 */
export function sendError(response: ServerResponse, error: unknown): void {
  if (!(error instanceof DomainError)) {
    console.error(error);
  }
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const { status, body } = errorAnswer(error);
  if (error instanceof RetryLaterError) {
    response.setHeader('retry-after', String(error.retryAfterSeconds));
  }
  sendJson(response, status, body);
}
