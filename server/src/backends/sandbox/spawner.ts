/**
 * Starts the processes of sandbox runs (each run's namespace holder, each step, the tools run in
 * a run's namespace) from a small process of the server's own, the spawner
 * (`spawner-process.ts`), rather than from the server.
 *
 * Why: Node.js starts a child by forking its whole process, whose page tables grow with its
 * memory, and it does so on the event loop. Measured in the server during a sweep, each spawn
 * held the loop about 6 ms, a third of the loop's time per sandbox run; from the spawner (a fresh
 * Node.js with little memory, on its own CPU) a spawn costs the server about 1 ms: a message, and
 * the child's pipes handed over on the channel (`subprocess.send` with a handle).
 *
 * A `FarChild` behaves as the part of `ChildProcess` the sandbox uses: `pid`, its output pipes as
 * sockets, `exitCode`/`signalCode`, `kill`, and the `exit` and `close` events. Should the spawner
 * die (it never should), its children are killed with their process groups and end as killed by
 * SIGKILL, and the next spawn starts a new spawner.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { childScript } from '../../child-script';
import { killGroup } from './kill-group';
import type { SpawnRequest, SpawnerMessage } from './spawner-protocol';

export interface FarSpawnOptions {
  /**
   * For each descriptor from 0: a pipe to this process, or /dev/null. Pipes are the child's
   * output only: its stdin is /dev/null (a pipe's writing end, handed over, would not stay open).
   */
  stdio: ['ignore', ...('pipe' | 'ignore')[]];
  env: Record<string, string>;
  /** In a new session and process group of its own (killed as a group). */
  detached?: boolean;
}

/** A process started by the spawner. */
export class FarChild extends EventEmitter {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  readonly stdio: (Socket | null)[];
  private openPipes = 0;

  constructor(
    readonly pid: number,
    stdio: (Socket | null)[],
    /** Whether it leads a process group of its own. */
    readonly detached: boolean
  ) {
    super();
    this.stdio = stdio;
    for (const pipe of stdio) {
      // A pipe that ended empty while the next one was on its way is closed already.
      if (pipe && !pipe.closed) {
        this.openPipes++;
        pipe.once('close', () => {
          this.openPipes--;
          this.closeWhenDone();
        });
      }
    }
  }

  get stdout(): Socket | null {
    return this.stdio[1] ?? null;
  }

  get stderr(): Socket | null {
    return this.stdio[2] ?? null;
  }

  /** Sends `signal` to the process unless it ended; whether it was sent. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    if (this.exitCode !== null || this.signalCode !== null) {
      return false;
    }
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Kills it with everything it started that stayed in its process group (a detached child leads
   * one), unless it ended.
   */
  killAll(): void {
    if (this.exitCode === null && this.signalCode === null) {
      killGroup(this.pid, this.detached);
    }
  }

  /** What it has said on stderr, up to `limit` characters (the start: where errors are said). */
  stderrHead(limit = 2000): () => string {
    let text = '';
    this.stderr?.on('data', (chunk: Buffer) => {
      if (text.length < limit) {
        text += chunk.toString();
      }
    });
    return () => text;
  }

  /** The spawner saw the process end. */
  ended(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exitCode !== null || this.signalCode !== null) {
      return;
    }
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
    this.closeWhenDone();
  }

  private closeWhenDone(): void {
    const exited = this.exitCode !== null || this.signalCode !== null;
    if (exited && this.openPipes === 0) {
      this.emit('close', this.exitCode, this.signalCode);
    }
  }
}

/** How long the spawner may take to start a program and hand over its pipes. */
export const SPAWN_TIMEOUT_MS = 60_000;

interface Pending {
  request: SpawnRequest;
  /** The spawner it was sent to. */
  via: ChildProcess;
  timer: NodeJS.Timeout;
  pid?: number;
  pipes: (Socket | null)[];
  awaited: number;
  resolve(child: FarChild): void;
  reject(error: Error): void;
}

/**
 * One spawner per server process, started at the first spawn. A spawner that does not answer in
 * time is killed (with all it started) and the spawn fails: a run then ends in error, and the next
 * spawn starts a new spawner, rather than the run waiting forever.
 */
export class Spawner {
  private process: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly live = new Map<
    number,
    { child: FarChild; via: ChildProcess }
  >();

  constructor(
    private readonly options: { script?: string; timeoutMs?: number } = {}
  ) {}

  spawn(
    file: string,
    args: string[],
    options: FarSpawnOptions
  ): Promise<FarChild> {
    const request: SpawnRequest = {
      id: this.nextId++,
      file,
      args,
      env: options.env,
      stdio: options.stdio,
      detached: options.detached ?? false
    };
    return new Promise<FarChild>((resolve, reject) => {
      const spawner = this.started();
      const timeoutMs = this.options.timeoutMs ?? SPAWN_TIMEOUT_MS;
      const timer = setTimeout(() => {
        this.fail(
          request.id,
          new Error(
            `The sandbox spawner did not start ${file} within ${timeoutMs / 1000} s; it was restarted.`
          )
        );
        if (this.process === spawner) {
          this.process = undefined;
        }
        spawner.kill('SIGKILL');
      }, timeoutMs);
      timer.unref();
      this.pending.set(request.id, {
        request,
        via: spawner,
        timer,
        pipes: request.stdio.map(() => null),
        awaited: request.stdio.filter(kind => kind === 'pipe').length,
        resolve,
        reject
      });
      this.holdOpen(true);
      spawner.send(request, error => {
        if (error) {
          this.fail(request.id, error);
        }
      });
    });
  }

  private started(): ChildProcess {
    if (this.process && this.process.connected) {
      return this.process;
    }
    const script =
      this.options.script ?? childScript(__dirname, 'spawner-process');
    const spawner = fork(script, [], {
      // Not the server's flags (a debugger, a profiler): a small heap is all it needs.
      execArgv: ['--max-old-space-size=64'],
      env: {},
      // Its stdin is never written to: its end tells the spawner that this process is gone.
      stdio: ['pipe', 'ignore', 'inherit', 'ipc']
    });
    (spawner.stdin as Socket | null)?.on('error', () => undefined).unref();
    spawner.on('message', (message: SpawnerMessage, handle?: Socket) =>
      this.heard(message, handle)
    );
    spawner.on('error', () => undefined); // its end is handled by 'exit'
    spawner.once('exit', () => this.lost(spawner));
    this.process = spawner;
    return spawner;
  }

  private heard(message: SpawnerMessage, handle?: Socket): void {
    const { id } = message;
    if (message.kind === 'exit') {
      this.live.get(id)?.child.ended(message.code, message.signal);
      this.live.delete(id);
      this.holdOpen(this.live.size + this.pending.size > 0);
      return;
    }
    const pending = this.pending.get(id);
    if (!pending) {
      handle?.destroy();
      return;
    }
    if (message.kind === 'error') {
      this.fail(
        id,
        new Error(`Cannot start ${pending.request.file}: ${message.message}`)
      );
      return;
    }
    if (message.kind === 'spawned') {
      pending.pid = message.pid;
    } else if (handle) {
      pending.pipes[message.index] = handle;
      pending.awaited--;
    } else {
      this.fail(
        id,
        new Error(`The spawner lost a pipe of ${pending.request.file}.`)
      );
      return;
    }
    if (pending.pid !== undefined && pending.awaited === 0) {
      this.pending.delete(id);
      clearTimeout(pending.timer);
      const child = new FarChild(
        pending.pid,
        pending.pipes,
        pending.request.detached
      );
      this.live.set(id, { child, via: pending.via });
      pending.resolve(child);
    }
  }

  private fail(id: number, error: Error): void {
    const pending = this.pending.get(id);
    if (!pending) {
      return;
    }
    this.pending.delete(id);
    clearTimeout(pending.timer);
    for (const pipe of pending.pipes) {
      pipe?.destroy();
    }
    if (pending.pid !== undefined) {
      killGroup(pending.pid, pending.request.detached);
    }
    pending.reject(error);
    this.holdOpen(this.live.size + this.pending.size > 0);
  }

  /** A spawner died: nothing it started may go on unobserved. */
  private lost(spawner: ChildProcess): void {
    if (this.process === spawner) {
      this.process = undefined;
    }
    for (const [id, pending] of [...this.pending]) {
      if (pending.via === spawner) {
        this.fail(id, new Error('The sandbox spawner process ended.'));
      }
    }
    for (const [id, { child, via }] of [...this.live]) {
      if (via === spawner) {
        this.live.delete(id);
        killGroup(child.pid, child.detached);
        child.ended(null, 'SIGKILL');
      }
    }
    this.holdOpen(this.live.size + this.pending.size > 0);
  }

  /** The spawner keeps this process alive only while something it started runs. */
  private holdOpen(busy: boolean): void {
    const spawner = this.process;
    if (!spawner) {
      return;
    }
    if (busy) {
      spawner.ref();
      spawner.channel?.ref();
    } else {
      spawner.unref();
      spawner.channel?.unref();
    }
  }
}

let spawner: Spawner | undefined;

/** Starts `file` with `args` from the spawner; resolves once its pipes are here. */
export function spawnFar(
  file: string,
  args: string[],
  options: FarSpawnOptions
): Promise<FarChild> {
  spawner ??= new Spawner();
  return spawner.spawn(file, args, options);
}
