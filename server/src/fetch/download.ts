/**
 * One file downloaded into a folder: streamed to a hidden temporary file beside its destination
 * (never held in memory), hashed (sha256, and md5 when the service gave one to check) as it
 * streams, bounded by the size limit (the announced length is checked before the first byte, the
 * count at every chunk), with progress reports. A transfer cut in the middle is resumed with an
 * HTTP Range request where the server accepts ranges (restarted otherwise), a bounded number of
 * times. The caller checks the file, then renames it (`place.ts`); on failure it is removed.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { DomainError } from '../errors';
import { formatBytes } from '../contract/bytes';
import { IdleTimer, describeFailure, openGet, type HttpLimits } from './http';
import { ProgressMeter, type DownloadProgress } from './progress';
import { shorten } from './source';

export interface DownloadRequest {
  url: string;
  /** Real path of the destination folder; the temporary file is made there. */
  folder: string;
  /** The file's name, for the temporary file's and for sentences. */
  name: string;
  maxBytes: number;
  /** What the service announced, checked after the transfer. */
  expected: { size: number | null; md5: string | null; sha256: string | null };
  limits: HttpLimits;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** Attempts in all (the first and the retries); default 5. */
  attempts?: number;
  /** Milliseconds before the n-th retry: n × this (default 200). */
  retryDelayMs?: number;
}

export interface Downloaded {
  /** The temporary file holding it. */
  path: string;
  sha256: string;
  size: number;
}

/** Failures worth another attempt: the network's, not the user's nor the service's refusal. */
function retryable(error: DomainError): boolean {
  return error.code === 'download-failed' || error.code === 'download-timeout';
}

class Retry extends Error {
  constructor(readonly cause: DomainError) {
    super(cause.message);
  }
}

export async function download(request: DownloadRequest): Promise<Downloaded> {
  const temp = join(
    request.folder,
    `.${request.name}.part-${randomBytes(6).toString('hex')}`
  );
  const file = await open(temp, 'wx', 0o644);
  try {
    const result = await transfer(request, file);
    await file.close();
    checkAnnounced(request, result);
    return { path: temp, ...result };
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
}

async function transfer(
  request: DownloadRequest,
  file: Awaited<ReturnType<typeof open>>
): Promise<{ sha256: string; size: number; md5: string }> {
  const attempts = request.attempts ?? 5;
  const meter = new ProgressMeter();
  let bytes = 0;
  let total: number | null = request.expected.size;
  let sha256: Hash = createHash('sha256');
  let md5: Hash = createHash('md5');
  let acceptsRanges = false;
  let validator: string | undefined;
  let lastError: DomainError | undefined;
  const restart = async () => {
    bytes = 0;
    sha256 = createHash('sha256');
    md5 = createHash('md5');
    await file.truncate(0);
    meter.reset(0);
  };

  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) {
      await delay((request.retryDelayMs ?? 200) * attempt, request.signal);
    }
    const resume = bytes > 0 && acceptsRanges;
    let response: IncomingMessage;
    try {
      ({ response } = await openGet(request.url, request.limits, {
        headers: resume
          ? {
              range: `bytes=${bytes}-`,
              ...(validator ? { 'if-range': validator } : {})
            }
          : {},
        signal: request.signal
      }));
    } catch (error) {
      lastError = failure(error, request);
      if (!(error instanceof DomainError) && retryable(lastError)) {
        continue;
      }
      throw lastError;
    }
    try {
      const status = response.statusCode ?? 0;
      if (status === 206 && resume) {
        const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(
          response.headers['content-range'] ?? ''
        );
        if (!range || Number(range[1]) !== bytes) {
          // Not the part asked for: take it from the start on the next attempt.
          response.destroy();
          acceptsRanges = false;
          await restart();
          throw new Retry(
            new DomainError(
              'download-failed',
              `${host(request.url)} answered a range other than the one asked for.`
            )
          );
        }
        if (range[2] !== '*') {
          total = Number(range[2]);
        }
      } else if (status === 200) {
        if (bytes > 0) {
          await restart();
        }
        const length = Number(response.headers['content-length']);
        total = Number.isSafeInteger(length) && length >= 0 ? length : total;
        acceptsRanges = response.headers['accept-ranges'] === 'bytes';
        const etag = response.headers.etag;
        validator =
          etag && !etag.startsWith('W/')
            ? etag
            : response.headers['last-modified'];
      } else {
        response.resume();
        const error = new DomainError(
          'download-failed',
          status === 404 || status === 410
            ? `${host(request.url)} no longer has ${request.name} (HTTP ${status}); the record may have changed.`
            : `${host(request.url)} answered HTTP ${status} for ${request.name}; try again later.`
        );
        if (status >= 500 || status === 429) {
          throw new Retry(error);
        }
        throw error;
      }
      if (total !== null && total > request.maxBytes) {
        response.destroy();
        throw tooLarge(request, total);
      }
      await readBody(response);
      if (total !== null && bytes < total) {
        throw new Retry(
          new DomainError(
            'download-failed',
            `${host(request.url)} ended the transfer of ${request.name} after ${formatBytes(bytes)} of ${formatBytes(total)}; try again.`
          )
        );
      }
      const progress = meter.update(bytes, total ?? bytes, true);
      if (progress) {
        request.onProgress?.(progress);
      }
      return {
        sha256: sha256.digest('hex'),
        md5: md5.digest('hex'),
        size: bytes
      };
    } catch (error) {
      if (error instanceof Retry) {
        lastError = error.cause;
        continue;
      }
      lastError = failure(error, request);
      if (!(error instanceof DomainError) && retryable(lastError)) {
        continue;
      }
      throw lastError;
    }
  }
  throw new DomainError(
    lastError?.code ?? 'download-failed',
    `After ${attempts} attempts: ${lastError?.message ?? 'the download failed.'}`
  );

  async function readBody(response: IncomingMessage): Promise<void> {
    const idle = new IdleTimer(request.limits.idleMs, error =>
      response.destroy(error)
    );
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        idle.touch();
        if (bytes + chunk.length > request.maxBytes) {
          response.destroy();
          throw tooLarge(request, null);
        }
        await file.write(chunk, 0, chunk.length, bytes);
        sha256.update(chunk);
        md5.update(chunk);
        bytes += chunk.length;
        const progress = meter.update(bytes, total);
        if (progress) {
          request.onProgress?.(progress);
        }
      }
    } finally {
      idle.stop();
    }
    if (!response.complete) {
      throw new Error('the connection was cut');
    }
  }
}

/** The sentence of a failure, or the cancellation as it is. */
function failure(error: unknown, request: DownloadRequest): DomainError {
  if (request.signal?.aborted) {
    throw request.signal.reason ?? error;
  }
  return describeFailure(error, request.url);
}

function checkAnnounced(
  request: DownloadRequest,
  got: { sha256: string; size: number; md5: string }
): void {
  const { expected } = request;
  const wrong =
    expected.size !== null && expected.size !== got.size
      ? `is ${formatBytes(got.size)}, not the ${formatBytes(expected.size)} the record announces`
      : expected.sha256 !== null && expected.sha256 !== got.sha256
        ? 'does not have the sha256 the record announces'
        : expected.md5 !== null && expected.md5 !== got.md5
          ? 'does not have the md5 checksum the record announces'
          : undefined;
  if (wrong) {
    throw new DomainError(
      'download-failed',
      `The downloaded ${request.name} ${wrong}; it was damaged on the way, try again.`
    );
  }
}

function tooLarge(request: DownloadRequest, size: number | null): DomainError {
  return new DomainError(
    'too-large',
    `${request.name} is ${size === null ? 'larger than' : `${formatBytes(size)}, over`} the ${formatBytes(request.maxBytes)} limit of this server; ask its administrator to raise REPROSERVER_MAX_UPLOAD_MIB.`
  );
}

function host(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return shorten(url);
  }
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
