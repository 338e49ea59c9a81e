/**
 * The one process that holds a bubblewrap run's namespaces: its user namespace (a mapped range of
 * ids, `identity.ts`, or the server's own id as root) and, for an overlay, a mount namespace with
 * the overlay mounted (`overlay.ts`). It is the static helper (`rpz-exec hold`, helpers/hold.c),
 * which never executes another program, so that it keeps its capabilities in the namespace for
 * what follows the maps. Steps and tools join its namespaces with `nsenter`; the server reaches
 * the overlay through `/proc/<holder>/root/…`.
 *
 * It is started by the sandbox's spawner (`spawner.ts`), and ends when the server kills it or dies
 * (the spawner, its parent, then ends, and the holder's parent-death signal ends it).
 */
import { spawnFar, type FarChild } from './spawner';

/** An overlay's folders: `lower` read-only under `upper` (with `work`), mounted at `merged`. */
export interface OverlayLayers {
  lower: string;
  upper: string;
  work: string;
  merged: string;
}

export interface HolderOptions {
  /** The static `rpz-exec` on this host. */
  helper: string;
  nsenter: string;
  /**
   * Writes the namespace's maps (a mapped range), once it exists; without it, the holder maps the
   * server's own ids to root itself.
   */
  writeMaps?: (pid: number) => Promise<void>;
  /** Forbids user namespaces inside (where steps run without one of their own). */
  noNestedUserns?: boolean;
  overlay?: OverlayLayers;
}

export class NamespaceHolder {
  private constructor(
    private readonly child: FarChild,
    private readonly nsenter: string
  ) {}

  /** Starts the holder; resolves once everything asked for is in place. */
  static async start(options: HolderOptions): Promise<NamespaceHolder> {
    const { overlay } = options;
    const child = await spawnFar(
      options.helper,
      [
        'hold',
        ...(options.writeMaps ? [] : ['--map-self']),
        ...(options.noNestedUserns ? ['--no-nested-userns'] : []),
        ...(overlay
          ? [
              '--overlay',
              overlay.lower,
              overlay.upper,
              overlay.work,
              overlay.merged
            ]
          : [])
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: {} }
    );
    const holder = new NamespaceHolder(child, options.nsenter);
    const stderr = child.stderrHead();
    const said = saidLines(child);
    try {
      if (options.writeMaps) {
        await said.expect('userns');
        await options.writeMaps(child.pid);
        // Go on: the maps are written.
        process.kill(child.pid, 'SIGUSR1');
      }
      await said.expect('ready');
      return holder;
    } catch (error) {
      await holder.stop();
      const ended = (error as Error).message === ENDED;
      throw new Error(
        ended
          ? stderr().trim() || 'the holder process ended'
          : (error as Error).message
      );
    }
  }

  get pid(): number {
    return this.child.pid;
  }

  /** The prefix that runs a command in the user namespace (and the mount one: `mount`). */
  enter(mount = false): string[] {
    return [
      this.nsenter,
      '-t',
      String(this.pid),
      '-U',
      ...(mount ? ['-m'] : []),
      '--preserve-credentials',
      '--'
    ];
  }

  /** Ends the holder: the namespaces go away with the last process in them. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) {
      return;
    }
    const exited = new Promise(resolve => child.once('exit', resolve));
    child.killAll();
    await exited;
  }
}

const ENDED = 'ended';

/** The holder's words on stdout, one line at a time; `expect` rejects with ENDED at its end. */
function saidLines(child: FarChild): { expect(word: string): Promise<void> } {
  const lines: string[] = [];
  let buffered = '';
  let ended = false;
  let wake: (() => void) | undefined;
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    for (
      let at = buffered.indexOf('\n');
      at >= 0;
      at = buffered.indexOf('\n')
    ) {
      lines.push(buffered.slice(0, at));
      buffered = buffered.slice(at + 1);
    }
    wake?.();
  });
  const end = (): void => {
    ended = true;
    wake?.();
  };
  // After its stdout and stderr ended: what it said on them is all in.
  child.once('close', end);
  return {
    async expect(word) {
      while (lines.length === 0) {
        if (ended) {
          throw new Error(ENDED);
        }
        await new Promise<void>(resolve => (wake = resolve));
      }
      const line = lines.shift()!;
      if (line !== word) {
        throw new Error(`the holder said "${line.slice(0, 80)}"`);
      }
    }
  };
}
