/**
 * A process started in a container through the engine's exec API with its stdout and stderr
 * attached: its stdout is handed over chunk by chunk as it arrives (read only as fast as the
 * caller takes it), its stderr is kept up to a few KiB for error messages.
 */
import type Docker from 'dockerode';
import type { Duplex } from 'node:stream';

const STDERR_KEPT_BYTES = 4096;
const DOCKER_HEADER_BYTES = 8;

/** What an attached exec said and how it ended. */
export interface ExecOutcome {
  /** Its stderr (at most a few KiB), or the engine's message when it could not be started. */
  stderr: string;
  /** Its exit code when the engine knows it. */
  exitCode: number | undefined;
}

/** The engine's exec ids are 64 hex digits; nothing else goes into an API path. */
export function checkedExecId(id: unknown): string {
  if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) {
    throw new Error(
      `The Docker Engine gave an exec id that is not 64 hex digits: ${JSON.stringify(String(id).slice(0, 80))}.`
    );
  }
  return id;
}

/**
 * Runs `Cmd` in the container as `User`, handing its stdout to `onStdout`; resolves when its
 * output ends (or when `signal` aborts: the connection is closed, which stops a process that
 * writes). `onStdout` returns true when it has heard enough: the connection is closed and the
 * process goes on alone (the engine keeps an exec's stream open until the process exits, even
 * once it closed its output). `onStdout` may throw to stop reading: the promise then rejects. It
 * may return a promise instead: nothing more is read until it resolves.
 */
export async function runAttached(
  docker: Docker,
  container: Docker.Container,
  options: { Cmd: string[]; User: string; WorkingDir?: string; Env?: string[] },
  onStdout: (chunk: Buffer) => boolean | void | Promise<void>,
  signal?: AbortSignal
): Promise<ExecOutcome> {
  const exec = await container.exec({
    ...options,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false
  });
  const id = checkedExecId(exec.id);
  const stream = (await exec.start({
    hijack: true,
    stdin: false
  })) as unknown as Duplex;
  const stderr: Buffer[] = [];
  let stderrBytes = 0;
  let enough = false;
  // What `onStdout` asked to be waited for before more is read.
  const waits: Promise<void>[] = [];
  const demux = new Demuxer((kind, bytes) => {
    if (kind === 1) {
      const answer = onStdout(bytes);
      if (answer === true) {
        enough = true;
      } else if (answer instanceof Promise) {
        waits.push(answer);
      }
    } else if (stderrBytes < STDERR_KEPT_BYTES) {
      const kept = bytes.subarray(0, STDERR_KEPT_BYTES - stderrBytes);
      stderr.push(Buffer.from(kept));
      stderrBytes += kept.length;
    }
  });
  const onAbort = (): void => void stream.destroy();
  signal?.addEventListener('abort', onAbort);
  try {
    if (!signal?.aborted) {
      for await (const chunk of stream) {
        demux.push(chunk as Buffer);
        if (enough) {
          break;
        }
        if (waits.length > 0) {
          await Promise.all(waits.splice(0));
        }
      }
    }
  } catch (error) {
    if (!signal?.aborted) {
      throw error;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stream.destroy();
  }
  let exitCode: number | undefined;
  if (!signal?.aborted && !enough) {
    const info = await docker
      .getExec(id)
      .inspect()
      .catch(() => undefined);
    exitCode =
      info && !info.Running && typeof info.ExitCode === 'number'
        ? info.ExitCode
        : undefined;
  }
  return { stderr: Buffer.concat(stderr).toString('utf8'), exitCode };
}

/**
 * Splits the engine's multiplexed stream (8-byte headers: stream, 0, 0, 0, length) into its
 * stdout and stderr, passing each payload on in the pieces it arrives in: only a header is ever
 * gathered.
 */
export class Demuxer {
  constructor(
    private readonly onPayload: (stream: number, bytes: Buffer) => void
  ) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this._remaining > 0) {
        const take = Math.min(this._remaining, chunk.length - at);
        this.onPayload(this._stream, chunk.subarray(at, at + take));
        this._remaining -= take;
        at += take;
        continue;
      }
      const take = Math.min(
        DOCKER_HEADER_BYTES - this._headerBytes,
        chunk.length - at
      );
      chunk.copy(this._header, this._headerBytes, at, at + take);
      this._headerBytes += take;
      at += take;
      if (this._headerBytes === DOCKER_HEADER_BYTES) {
        this._headerBytes = 0;
        this._stream = this._header[0];
        this._remaining = this._header.readUInt32BE(4);
        if (this._stream !== 1 && this._stream !== 2) {
          throw new Error(
            `The Docker Engine sent an attached stream of unknown kind ${this._stream}.`
          );
        }
      }
    }
  }

  private readonly _header = Buffer.alloc(DOCKER_HEADER_BYTES);
  private _headerBytes = 0;
  private _stream = 0;
  private _remaining = 0;
}
