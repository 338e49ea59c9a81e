/**
 * The image of each package: built at most once at a time (the builder joins concurrent
 * requests), with its state and latest events kept for `GET /api/packages/:sha256/build`.
 */
import { buildImage } from '../build';
import type { BuildEvent } from '../build/events';
import type { BuildStatus } from '../api/wire';

const KEPT_EVENTS = 20;

export interface BuildServiceOptions {
  dockerSocket: string;
  registry?: string;
  /** Finds a file holding the package. */
  pathOf: (sha256: string) => Promise<string>;
}

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
   * caller gets the events of the build from the moment it joins.
   */
  async ensure(
    sha256: string,
    onEvent?: (event: BuildEvent) => void
  ): Promise<string> {
    const status: BuildStatus = {
      state: 'building',
      image: null,
      events: [],
      error: null
    };
    const previous = this._status.get(sha256);
    if (previous?.state !== 'building') {
      this._status.set(sha256, status);
    }
    const current = this._status.get(sha256)!;
    try {
      const result = await buildImage(await this.options.pathOf(sha256), {
        dockerSocket: this.options.dockerSocket,
        registry: this.options.registry,
        sha256,
        onEvent: event => {
          current.events = [...current.events, event].slice(-KEPT_EVENTS);
          onEvent?.(event);
        }
      });
      Object.assign(current, {
        state: 'ready',
        image: result.image,
        error: null
      });
      return result.image;
    } catch (error) {
      Object.assign(current, {
        state: 'failed',
        error: error instanceof Error ? error.message : String(error)
      });
      throw error;
    }
  }

  private readonly _status = new Map<string, BuildStatus>();
}
