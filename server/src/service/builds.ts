/**
 * The image of each package: built at most once at a time, with its state and latest events kept
 * for `GET /api/packages/:sha256/build`, and its events streamed to whoever follows it.
 */
import { buildImage } from '../build';
import type { BuildEvent } from '../build/events';
import type { BuildStatus } from '../contract/wire';
import type { PackageModel } from '../rpz/model';
import type { PackageReaderOptions } from '../rpz/worker';
import { errorMessage } from '../describe';

const KEPT_EVENTS = 20;

export interface BuildServiceOptions {
  dockerSocket: string;
  registry?: string;
  /** Finds a file holding the package. */
  pathOf: (sha256: string) => Promise<string>;
  /** The package's model, as read when it was registered (never read again on this thread). */
  modelOf?: (sha256: string) => PackageModel | undefined;
  /** Limits of the reader process that generates each image's tar. */
  reader?: PackageReaderOptions;
  /** Keeps the registry digests of the images across restarts. */
  digests?: ImageDigests;
}

/** Where the registry digest of each package's image is kept (the records, in the server). */
export interface ImageDigests {
  imageDigest(registry: string, sha256: string): string | undefined;
  setImageDigest(registry: string, sha256: string, digest: string): void;
}

type Listener = (event: BuildEvent) => void;

export class BuildService {
  constructor(private readonly options: BuildServiceOptions) {}

  status(sha256: string): BuildStatus {
    return (
      this._status.get(sha256) ?? {
        state: 'none',
        image: null,
        events: [],
        error: null
      }
    );
  }

  /**
   * Starts or joins the build of a package's image; resolves with the image reference. Every
   * caller gets the events of the build from the moment it joins; one that joins a build under way
   * first gets where it stands (its latest phase and progress), so that a run queued behind
   * another's build shows the bytes too.
   */
  async ensure(sha256: string, onEvent?: Listener): Promise<string> {
    const joined = this._flights.get(sha256);
    if (joined && onEvent) {
      whereItStands(this.status(sha256).events).forEach(onEvent);
    }
    const flight = joined ?? this._start(sha256);
    const stop = onEvent ? this._listen(sha256, onEvent) : undefined;
    try {
      return await flight;
    } finally {
      stop?.();
    }
  }

  /**
   * Hands over the latest events of the package's build (the last one, when none is going on),
   * then each new one until the build ends or `signal` aborts.
   */
  async follow(
    sha256: string,
    onEvent: Listener,
    signal: AbortSignal
  ): Promise<void> {
    // Kept events and the subscription happen in one turn: no event falls between them.
    this.status(sha256).events.forEach(onEvent);
    const flight = this._flights.get(sha256);
    if (!flight || signal.aborted) {
      return;
    }
    const stop = this._listen(sha256, onEvent);
    try {
      await Promise.race([
        flight.catch(() => undefined),
        new Promise(resolve =>
          signal.addEventListener('abort', resolve, { once: true })
        )
      ]);
    } finally {
      stop();
    }
  }

  private _start(sha256: string): Promise<string> {
    const status: BuildStatus = {
      state: 'building',
      image: null,
      events: [],
      error: null
    };
    this._status.set(sha256, status);
    const flight = (async () => {
      try {
        const result = await buildImage(await this.options.pathOf(sha256), {
          dockerSocket: this.options.dockerSocket,
          registry: this.options.registry,
          sha256,
          model: this.options.modelOf?.(sha256),
          reader: this.options.reader,
          // Pulls ask the registry for the digest it gave before, never the tag again.
          digest: this._digestOf(sha256),
          onEvent: event => {
            status.events = [...status.events, event].slice(-KEPT_EVENTS);
            this._listeners.get(sha256)?.forEach(listener => listener(event));
          }
        });
        if (result.digest !== undefined && this.options.registry) {
          this._digests.set(sha256, result.digest);
          this.options.digests?.setImageDigest(
            this.options.registry,
            sha256,
            result.digest
          );
        }
        Object.assign(status, { state: 'ready', image: result.image });
        return result.image;
      } catch (error) {
        Object.assign(status, {
          state: 'failed',
          error: errorMessage(error)
        });
        throw error;
      } finally {
        this._flights.delete(sha256);
      }
    })();
    this._flights.set(sha256, flight);
    return flight;
  }

  private _listen(sha256: string, listener: Listener): () => void {
    let listeners = this._listeners.get(sha256);
    if (!listeners) {
      listeners = new Set();
      this._listeners.set(sha256, listeners);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this._listeners.get(sha256) === listeners) {
        this._listeners.delete(sha256);
      }
    };
  }

  private readonly _status = new Map<string, BuildStatus>();
  private readonly _flights = new Map<string, Promise<string>>();
  private readonly _listeners = new Map<string, Set<Listener>>();

  private _digestOf(sha256: string): string | undefined {
    const registry = this.options.registry;
    return (
      this._digests.get(sha256) ??
      (registry
        ? this.options.digests?.imageDigest(registry, sha256)
        : undefined)
    );
  }

  /** Registry digests of the packages' images, as pushed or first pulled. */
  private readonly _digests = new Map<string, string>();
}

/** The latest phase and the latest progress of a build's kept events, in their order. */
export function whereItStands(events: readonly BuildEvent[]): BuildEvent[] {
  const latest = (type: BuildEvent['type']): BuildEvent | undefined =>
    [...events].reverse().find(event => event.type === type);
  const kept = [latest('phase'), latest('progress')];
  return events.filter(event => kept.includes(event));
}
