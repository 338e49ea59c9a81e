/**
 * The host folder where a Docker run's steps leave their traces, bind-mounted into the run's
 * container: for the step at plan position N, `N.log` (its output, framed by `rpz-exec step`),
 * `N.exit` (its exit code, once it has ended) and `N.exec` (the engine's id of the exec running
 * it, written before the exec starts). They outlive the server process: a restarted server reads
 * them to learn where each step is, and follows the one still running.
 *
 * The step's own processes can write in this folder too (they run as the recorded user, often
 * root). Everything here is therefore opened without following links, without blocking on a
 * FIFO, and only if it is a regular file; what it says is trusted no more than the step's output.
 */
import { constants } from 'node:fs';
import { chmod, mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { HELPER_DIR } from './layout';

/** Where the folder appears inside the container. */
export const STEPS_MOUNT = `${HELPER_DIR}/steps`;

/** Where a step is, as its files tell. */
export type StepState =
  | { kind: 'not-started' }
  | { kind: 'started'; execId: string; exitCode?: number };

const READ_FLAGS =
  constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export class StepFiles {
  constructor(readonly hostDir: string) {}

  /** Makes the folder. Its mode lets a step running as any user reach the files made for it. */
  async create(): Promise<void> {
    await mkdir(this.hostDir, { recursive: true });
    await chmod(this.hostDir, 0o711);
  }

  async remove(): Promise<void> {
    await rm(this.hostDir, { recursive: true, force: true });
  }

  hostPath(position: number, kind: 'log' | 'exit' | 'exec'): string {
    return join(this.hostDir, `${position}.${kind}`);
  }

  containerPath(position: number, kind: 'log' | 'exit'): string {
    return `${STEPS_MOUNT}/${position}.${kind}`;
  }

  /**
   * Empty log and exit files the step's user may write (but not read) — whatever its uid, and
   * without our having to change owners — replacing what a start that never happened left.
   */
  async prepare(position: number): Promise<void> {
    for (const kind of ['log', 'exit'] as const) {
      const path = this.hostPath(position, kind);
      await rm(path, { force: true });
      const handle = await open(path, 'wx', 0o622);
      try {
        await handle.chmod(0o622);
      } finally {
        await handle.close();
      }
    }
  }

  /** Written before the exec starts: from then on the step may be running, and is never redone. */
  async recordExec(position: number, execId: string): Promise<void> {
    const path = this.hostPath(position, 'exec');
    const handle = await open(path, 'w', 0o600);
    try {
      await handle.writeFile(execId);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async state(position: number): Promise<StepState> {
    const execId = (
      await this._readSmall(this.hostPath(position, 'exec'))
    )?.trim();
    if (!execId) {
      return { kind: 'not-started' };
    }
    const exitCode = await this.exitCode(position);
    return exitCode === undefined
      ? { kind: 'started', execId }
      : { kind: 'started', execId, exitCode };
  }

  /** The step's exit code once `rpz-exec` has written it. */
  async exitCode(position: number): Promise<number | undefined> {
    const text = await this._readSmall(this.hostPath(position, 'exit'));
    const match = /^(\d{1,3})\n$/.exec(text ?? '');
    return match ? Number(match[1]) : undefined;
  }

  /** Opens the step's log for reading from its start. */
  async openLog(position: number): Promise<FileHandle> {
    return openRegular(this.hostPath(position, 'log'));
  }

  private async _readSmall(path: string): Promise<string | undefined> {
    let handle: FileHandle;
    try {
      handle = await openRegular(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return undefined;
      }
      throw error;
    }
    try {
      const buffer = Buffer.alloc(100);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
      return buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  }
}

async function openRegular(path: string): Promise<FileHandle> {
  const handle = await open(path, READ_FLAGS);
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new Error(`${path} is not a regular file: a step changed it.`);
  }
  return handle;
}
