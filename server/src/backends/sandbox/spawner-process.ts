/**
 * The spawner process (`spawner.ts`): starts the programs the server asks for and hands it their
 * pipes, then tells it how they ended. A small Node.js process forks cheaply, where the server,
 * with its larger memory, pays several milliseconds of its event loop for each fork.
 *
 * It ends with the server, and so does what it started: when the server is gone it kills the
 * process group of every child still running (the sandbox's holders would die with it anyway, by
 * their parent-death signal), then exits. The channel's 'disconnect' says the server is gone only
 * once every pipe in flight was received, which a server that died never does: so the server also
 * gives this process a stdin it never writes to, whose end says it at once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { killGroup } from './kill-group';
import type { SpawnRequest, SpawnerMessage } from './spawner-protocol';

function say(message: SpawnerMessage, handle?: Socket): void {
  // A message whose channel is gone has nobody to reach: the 'disconnect' below ends this process.
  process.send?.(message, handle, undefined, () => undefined);
}

process.on('message', (request: SpawnRequest) => {
  const { id } = request;
  let child;
  try {
    child = spawn(request.file, request.args, {
      stdio: request.stdio,
      env: request.env,
      detached: request.detached
    });
  } catch (error) {
    say({ id, kind: 'error', message: (error as Error).message });
    return;
  }
  child.once('error', error => {
    say({ id, kind: 'error', message: error.message });
  });
  if (child.pid === undefined) {
    return; // 'error' says why
  }
  const pipes = request.stdio.flatMap((kind, index) =>
    kind === 'pipe' ? [{ index, socket: child.stdio[index] as Socket }] : []
  );
  // The pipes go to the server one at a time (each waits for the previous one's receipt), and
  // until a pipe is gone, nothing here may read it. Node.js starts reading a child's output at
  // once, and resumes it when the child exits: so each handle stops reading now, in this tick,
  // before any byte can be read, and the child process object forgets its pipes, which are the
  // server's from now on.
  for (const { socket } of pipes) {
    stopReading(socket);
  }
  forgetPipes(child);
  say({ id, kind: 'spawned', pid: child.pid });
  for (const { index, socket } of pipes) {
    say({ id, kind: 'pipe', index }, socket);
  }
  running.set(child.pid, request.detached);
  const pid = child.pid;
  child.once('exit', (code, signal) => {
    running.delete(pid);
    say({ id, kind: 'exit', code, signal });
  });
});

/** Children still running: pid → whether it leads its own process group. */
const running = new Map<number, boolean>();

function serverGone(): void {
  for (const [pid, detached] of running) {
    killGroup(pid, detached);
  }
  process.exit(0);
}

process.once('disconnect', serverGone);
process.stdin.once('end', serverGone).once('error', serverGone).resume();

/** Leaves a child's pipes out of what its object does when it exits. */
function forgetPipes(child: ChildProcess): void {
  const fields = child as unknown as Record<string, unknown>;
  fields.stdout = fields.stderr = null;
  fields.stdio = child.stdio.map(() => null);
}

/** Stops a pipe's handle from reading (`net.Socket` has no public call for it). */
function stopReading(socket: Socket): void {
  const handle = (
    socket as unknown as {
      _handle?: { reading?: boolean; readStop?: () => number };
    }
  )._handle;
  if (typeof handle?.readStop !== 'function') {
    throw new Error('This Node.js gives no way to stop reading a pipe.');
  }
  handle.reading = false;
  handle.readStop();
}
