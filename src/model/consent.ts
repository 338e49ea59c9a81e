import {
  type BackendName,
  type BackendStatus,
  type BackendsResponse,
  exposuresOf,
  needsConsent,
  type Exposure
} from 'reproserver/contract';
import type { BackendChoice } from '../tokens';

/** What the user is asked before a run on a backend that isolates less than files + network. */
export interface IConsentRequest {
  packageName: string;
  backend: BackendName;
  /** What the experiment will be able to reach with the user's account. */
  exposures: Exposure[];
}

/** Shows the request to the user; resolves true when they accept. */
export type ConsentPrompt = (request: IConsentRequest) => Promise<boolean>;

/** The backend the next run will use: the one chosen in the settings, or the server's default. */
export function nextRunBackend(
  backends: BackendsResponse | null,
  choice: BackendChoice
): BackendStatus | undefined {
  if (!backends) {
    return undefined;
  }
  const name = choice === 'auto' ? backends.default : choice;
  return backends.backends.find(b => b.name === name);
}

/** What a run on this backend would expose, when it needs consent; null when it does not. */
export function weakExposures(
  backend: BackendStatus | undefined
): Exposure[] | null {
  if (!backend?.isolation || !needsConsent(backend.isolation)) {
    return null;
  }
  return exposuresOf(backend.isolation);
}

/** The part of the Web Storage API the memory uses (tests pass a Map-backed one). */
export interface IConsentStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const KEY_PREFIX = 'jupyterlab-reproserver:weak-isolation:';

/**
 * Which packages the user let run with weak isolation, and exposing what: asked once per package,
 * and again only if a run would expose more than what they accepted (the host changed). Kept in
 * the browser's local storage, so a reload does not ask again; in memory where there is none.
 */
export class ConsentMemory {
  constructor(storage?: IConsentStorage | null) {
    this._storage = storage ?? memoryStorage();
  }

  /** Whether the user accepted at least these exposures for this package. */
  covers(sha256: string, exposures: readonly Exposure[]): boolean {
    const accepted = this._read(sha256);
    return exposures.every(exposure => accepted.includes(exposure));
  }

  remember(sha256: string, exposures: readonly Exposure[]): void {
    const all = [...new Set([...this._read(sha256), ...exposures])].sort();
    try {
      this._storage.setItem(KEY_PREFIX + sha256, all.join(','));
    } catch {
      // Storage full or refused: the user is asked again next time, nothing worse.
    }
  }

  private _read(sha256: string): string[] {
    try {
      return (this._storage.getItem(KEY_PREFIX + sha256) ?? '')
        .split(',')
        .filter(Boolean);
    } catch {
      return [];
    }
  }

  private readonly _storage: IConsentStorage;
}

function memoryStorage(): IConsentStorage {
  const items = new Map<string, string>();
  return {
    getItem: key => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value)
  };
}
