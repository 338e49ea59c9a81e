/**
 * A run's root filesystem as an overlay of the package's cached tree (read-only lower layer) and
 * the run's own upper folder, for bubblewrap runs: setting it up costs the same whatever the
 * package's size, and the run's changes are exactly the regular files in the upper folder.
 *
 * Unprivileged users may mount overlayfs inside a user namespace they own (Linux ≥ 5.11), but
 * bubblewrap 0.8 cannot mount one (`--overlay` came in 0.9), and a mount lives only as long as its
 * mount namespace. So one small "holder" process per run owns a user + mount namespace with the
 * overlay mounted (`unshare` then `mount -t overlay … userxattr`, then it sleeps); each step enters
 * that namespace (`nsenter`) and starts bubblewrap there with the overlay as its root; the server
 * reaches the run's merged view through `/proc/<holder>/root/…` (placing inputs, reading outputs).
 * The kernel never writes to an overlay's lower layer, so the cache cannot change.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTree } from '../../sandbox/rootfs-cache';
import { findFiles, type FoundFiles, type WalkLimits } from './run-tree';

/**
 * Mounts the overlay in a new user and mount namespace, says "ready", then waits to be killed (or
 * for the server to die: `setpriv --pdeathsig`, when available, so no holder outlives it).
 */
const HOLDER_SCRIPT =
  'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3,userxattr" "$4" || exit 1; echo ready; if [ -n "$6" ]; then exec "$6" --pdeathsig KILL "$5" infinity; fi; exec "$5" infinity';

export class OverlayTree {
  private constructor(
    private readonly holder: ChildProcess,
    /** The merged tree's path inside the holder's mount namespace. */
    readonly merged: string,
    /** The run's changes. */
    readonly upper: string,
    private readonly nsenter: string
  ) {}

  /** The merged tree, as the server reaches it from outside the namespace. */
  get root(): string {
    return `/proc/${this.holder.pid}/root${this.merged}`;
  }

  /** The prefix that runs a command inside the namespace holding the overlay. */
  enter(): string[] {
    return [
      this.nsenter,
      '-t',
      String(this.holder.pid),
      '-U',
      '-m',
      '--preserve-credentials',
      '--'
    ];
  }

  /** Mounts `lower` (read-only) under a new upper folder in `runDir`. */
  static async start(
    lower: string,
    runDir: string,
    programs: OverlayPrograms,
    /** A prefix that enters a user namespace of the run's (`identity.ts`); default: a new one. */
    userns?: string[]
  ): Promise<OverlayTree> {
    if (/[,:\\\n]/.test(lower + runDir)) {
      throw new Error(
        'The cache or run folder has a character overlayfs options cannot hold.'
      );
    }
    const upper = join(runDir, 'upper');
    const work = join(runDir, 'work');
    const merged = join(runDir, 'merged');
    await Promise.all(
      [upper, work, merged].map(dir => mkdir(dir, { recursive: true }))
    );
    const [program, ...prefix] = [
      ...(userns ?? []),
      programs.unshare,
      ...(userns ? [] : ['--user', '--map-root-user'])
    ];
    const holder = spawn(
      program,
      [
        ...prefix,
        '--mount',
        '--propagation',
        'private',
        '/bin/sh',
        '-c',
        HOLDER_SCRIPT,
        'sh',
        lower,
        upper,
        work,
        merged,
        programs.sleep,
        programs.setpriv ?? ''
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: {} }
    );
    let stderr = '';
    holder.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ready = await new Promise<boolean>(resolve => {
      holder.stdout!.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('ready')) {
          resolve(true);
        }
      });
      holder.on('error', () => resolve(false));
      holder.on('exit', () => resolve(false));
    });
    if (!ready) {
      kill(holder);
      throw new Error(
        `Cannot mount the run's overlay: ${stderr.trim() || 'the holder process ended'}`
      );
    }
    holder.stdout!.resume();
    return new OverlayTree(holder, merged, upper, programs.nsenter);
  }

  /** Unmounts (the namespace goes away with its holder). */
  async stop(): Promise<void> {
    if (this.holder.exitCode !== null || this.holder.signalCode !== null) {
      return;
    }
    const exited = new Promise(resolve => this.holder.once('exit', resolve));
    kill(this.holder);
    await exited;
  }

  /** Regular files the run created or changed: those in the upper layer. */
  changedFiles(limits: WalkLimits = {}): Promise<FoundFiles> {
    return findFiles(this.upper, () => true, {
      ...limits,
      openUpIn: this.root
    });
  }
}

function kill(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

export interface OverlayPrograms {
  unshare: string;
  nsenter: string;
  sleep: string;
  setpriv?: string;
}

/** Finds `unshare`, `nsenter` and `sleep`, and checks that an overlay really mounts here. */
export async function probeOverlay(): Promise<OverlayPrograms | null> {
  const find = (name: string): string | undefined =>
    ['/usr/bin', '/bin', '/usr/sbin', '/sbin']
      .map(dir => join(dir, name))
      .find(path => existsSync(path));
  const unshare = find('unshare');
  const nsenter = find('nsenter');
  const sleep = find('sleep');
  if (!unshare || !nsenter || !sleep) {
    return null;
  }
  const programs = { unshare, nsenter, sleep, setpriv: find('setpriv') };
  const dir = await mkdtemp(join(tmpdir(), 'reproserver-overlay-probe-'));
  try {
    await mkdir(join(dir, 'lower'));
    const tree = await OverlayTree.start(
      join(dir, 'lower'),
      join(dir, 'run'),
      programs
    );
    await tree.stop();
    return programs;
  } catch {
    return null;
  } finally {
    await removeTree(dir).catch(() => undefined);
  }
}
