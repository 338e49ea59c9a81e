import type { ServerResponse } from 'node:http';
import { ApiError } from './errors';

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

/** Turns anything thrown by a handler into the API's error shape; never leaks a stack trace. */
export function sendError(response: ServerResponse, error: unknown): void {
  const apiError =
    error instanceof ApiError
      ? error
      : new ApiError(
          500,
          'internal',
          'The server failed to handle this request; see its log.'
        );
  if (!(error instanceof ApiError)) {
    console.error(error);
  }
  if (response.headersSent) {
    response.destroy();
    return;
  }
  sendJson(response, apiError.status, apiError.toJSON());
}
