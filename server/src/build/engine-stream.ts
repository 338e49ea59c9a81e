/**
 * Reads the JSON message streams the Docker Engine answers long operations with (import, pull,
 * push, build): one JSON object per line, progress as it goes, and a failure reported in-band as
 * `{"error": …}` even though the HTTP status was 200.
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** One message of an engine progress stream (the fields ReproServer looks at). */
export interface EngineMessage {
  status?: string;
  id?: string;
  stream?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: { ID?: string; Tag?: string; Digest?: string; Size?: number };
  error?: string;
  errorDetail?: { message?: string };
}

/** Thrown when the stream reports an error; `message` is the engine's sentence. */
export class EngineStreamError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineStreamError';
  }
}

/**
 * Reads `stream` to its end, calling `onMessage` for each message; resolves with all messages when
 * the operation succeeded and rejects with an `EngineStreamError` when the engine reported one.
 */
export async function followEngineStream(
  stream: Readable,
  onMessage: (message: EngineMessage) => void = () => undefined
): Promise<EngineMessage[]> {
  const messages: EngineMessage[] = [];
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let failure: string | null = null;
  const take = (line: string): void => {
    const text = line.trim();
    if (text === '') {
      return;
    }
    let message: EngineMessage;
    try {
      message = JSON.parse(text) as EngineMessage;
    } catch {
      message = { stream: text };
    }
    messages.push(message);
    if (message.error !== undefined || message.errorDetail !== undefined) {
      failure ??=
        message.errorDetail?.message ?? message.error ?? 'unknown error';
    }
    onMessage(message);
  };
  for await (const chunk of stream) {
    pending += decoder.write(chunk as Buffer);
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    lines.forEach(take);
  }
  take(pending + decoder.end());
  if (failure !== null) {
    throw new EngineStreamError(failure);
  }
  return messages;
}

/** The engine's sentence from a dockerode error (`json.message`), else the error's message. */
export function engineMessage(error: unknown): string {
  const json = (error as { json?: unknown } | null)?.json;
  if (
    typeof json === 'object' &&
    json !== null &&
    typeof (json as { message?: unknown }).message === 'string'
  ) {
    return (json as { message: string }).message;
  }
  if (typeof json === 'string' && json.trim() !== '') {
    return json.trim();
  }
  const message = (error as { message?: unknown } | null)?.message;
  if (typeof message !== 'string') {
    return String(error);
  }
  // docker-modem puts the engine's sentence after "(HTTP code 500) server error - ".
  const match = /^\(HTTP code \d+\)[^-]*- ([\s\S]*)$/.exec(message);
  const text = (match?.[1] ?? message).trim();
  return text === '' ? message.trim() : text;
}

/** The HTTP status of a dockerode error, if it has one. */
export function engineStatus(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
