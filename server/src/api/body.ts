import type { IncomingMessage } from 'node:http';
import { ApiError } from './errors';

/** Reads a JSON request body of at most `maxBytes`; a bigger or malformed one is the caller's fault. */
export async function readJson<T>(
  request: IncomingMessage,
  maxBytes = 1024 * 1024
): Promise<T> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    throw new ApiError(
      'too-large',
      `The request body is larger than ${maxBytes} bytes.`
    );
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      request.destroy();
      throw new ApiError(
        'too-large',
        `The request body is larger than ${maxBytes} bytes.`
      );
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    return {} as T;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError('bad-json', 'The request body is not valid JSON.');
  }
}

/** Checks that a JSON body is an object, and returns it typed. */
export function asObject(
  value: unknown,
  what = 'The request body'
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError('bad-request', `${what} must be a JSON object.`);
  }
  return value as Record<string, unknown>;
}
