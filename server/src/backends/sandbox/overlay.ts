/**
 * A run's root filesystem as an overlay of the package's cached tree (read-only lower layer) and
 * the run's own upper folder, for bubblewrap runs: setting it up costs the same whatever the
 * package's size, and the run's changes are exactly the regular files in the upper folder.
 *
 * Unprivileged users may mount overlayfs inside a user namespace they own (Linux ≥ 5.11), but
 * bubblewrap 0.8 cannot mount one (`--overlay` came in 0.9), and a mount lives only as long as its
 * mount namespace. So the run's holder process (`namespace-holder.ts`) owns a user + mount
 * namespace with the overlay mounted (the user namespace is the run's mapped one, `identity.ts`,
 * or else one mapping the server's own ids to root); each step enters that namespace (`nsenter`)
 * and starts bubblewrap there with the overlay as its root; the server reaches the run's merged
 * view through `/proc/<holder>/root/…` (placing inputs, reading outputs). The kernel never writes
 * to an overlay's lower layer, so the cache cannot change.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeTree } from '../../sandbox/rootfs-cache';
import { NamespaceHolder, type OverlayLayers } from './namespace-holder';
import { findFiles, type FoundFiles, type WalkLimits } from './run-tree';

export class OverlayTree {
  private constructor(
    private readonly holder: NamespaceHolder,
    private readonly layers: OverlayLayers
  ) {}

  /** The merged tree's path inside the holder's mount namespace. */
  get merged(): string {
    return this.layers.merged;
  }

  /** The run's changes. */
  get upper(): string {
    return this.layers.upper;
  }

  /** The merged tree, as the server reaches it from outside the namespace. */
  get root(): string {
    return `/proc/${this.holder.pid}/root${this.layers.merged}`;
  }

  /** The prefix that runs a command inside the namespace holding the overlay. */
  enter(): string[] {
    return this.holder.enter(true);
  }

  /**
   * The folders of an overlay of `lower` (read-only) for a run, made in `runDir`: what a holder
   * then mounts (`start`, or a run's user namespace, `identity.ts`).
   */
  static async layers(lower: string, runDir: string): Promise<OverlayLayers> {
    if (/[,:\\\n]/.test(lower + runDir)) {
      throw new Error(
        'The cache or run folder has a character overlayfs options cannot hold.'
      );
    }
    const layers = {
      lower,
      upper: join(runDir, 'upper'),
      work: join(runDir, 'work'),
      merged: join(runDir, 'merged')
    };
    await Promise.all(
      [layers.upper, layers.work, layers.merged].map(dir =>
        mkdir(dir, { recursive: true })
      )
    );
    return layers;
  }

  /**
   * The overlay of `layers`: the one `holder` mounted already (a run's user namespace's), or else
   * one mounted by a holder of its own, in a user namespace that maps the server's ids to root.
   */
  static async start(
    layers: OverlayLayers,
    programs: OverlayPrograms & { helper: string },
    holder?: NamespaceHolder
  ): Promise<OverlayTree> {
    if (holder) {
      return new OverlayTree(holder, layers);
    }
    try {
      return new OverlayTree(
        await NamespaceHolder.start({ ...programs, overlay: layers }),
        layers
      );
    } catch (error) {
      throw new Error(
        `Cannot mount the run's overlay: ${(error as Error).message}`
      );
    }
  }

  /** Unmounts (the namespace goes away with its holder). */
  stop(): Promise<void> {
    return this.holder.stop();
  }

  /** Regular files the run created or changed: those in the upper layer. */
  changedFiles(limits: WalkLimits = {}): Promise<FoundFiles> {
    return findFiles(this.layers.upper, () => true, {
      ...limits,
      openUpIn: this.root
    });
  }
}

/** What a run's steps need to enter an overlay's namespaces (its holder is the static helper). */
export interface OverlayPrograms {
  nsenter: string;
}

/** Finds `nsenter`, and checks that an overlay really mounts here with `helper`'s holder. */
export async function probeOverlay(
  helper: string
): Promise<OverlayPrograms | null> {
  const nsenter = ['/usr/bin', '/bin', '/usr/sbin', '/sbin']
    .map(dir => join(dir, 'nsenter'))
    .find(path => existsSync(path));
  if (!nsenter) {
    return null;
  }
  const programs = { nsenter };
  const dir = await mkdtemp(join(tmpdir(), 'reproserver-overlay-probe-'));
  try {
    await mkdir(join(dir, 'lower'));
    const tree = await OverlayTree.start(
      await OverlayTree.layers(join(dir, 'lower'), join(dir, 'run')),
      { ...programs, helper }
    );
    await tree.stop();
    return programs;
  } catch {
    return null;
  } finally {
    await removeTree(dir).catch(() => undefined);
  }
}
