import type { IncomingMessage } from 'node:http';
import type { Static, TSchema } from '@sinclair/typebox';
import { ApiError } from './errors';
import { validate } from '../contract/validate';

/** Reads a JSON request body of at most `maxBytes`; a bigger or malformed one is the caller's fault. */
export async function readJson<T = unknown>(
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

/**
 * Reads a JSON request body and validates it against its schema (`contract/schemas/`); an empty
 * body is `{}`. A mistake answers 400 with a sentence naming the field.
 */
export async function readBody<T extends TSchema>(
  request: IncomingMessage,
  schema: T
): Promise<Static<T>> {
  return validate(schema, await readJson(request));
}
