/**
 * In-process single-flight with event replay: while work for a key is running, later callers for
 * the same key join it instead of starting their own, receive every event emitted so far and then
 * the live ones, and get the same outcome.
 */

/** The handle a caller gets. */
export interface Flight<T> {
  promise: Promise<T>;
  /** True when this caller joined work another caller had started. */
  joined: boolean;
}

interface Running<T, E> {
  promise: Promise<T>;
  history: E[];
  listeners: Set<(event: E) => void>;
}

export class SingleFlight<T, E> {
  private readonly running = new Map<string, Running<T, E>>();

  /** Number of keys with work under way. */
  get size(): number {
    return this.running.size;
  }

  /**
   * Runs `work` for `key` unless it is running already. `listener` receives the events of the work
   * (replayed first when joining); a listener that throws is ignored, so one bad listener cannot
   * break the build for the others.
   */
  run(
    key: string,
    listener: ((event: E) => void) | undefined,
    work: (emit: (event: E) => void) => Promise<T>
  ): Flight<T> {
    const existing = this.running.get(key);
    if (existing !== undefined) {
      if (listener !== undefined) {
        for (const event of existing.history) {
          safeCall(listener, event);
        }
        existing.listeners.add(listener);
      }
      return { promise: existing.promise, joined: true };
    }
    const state: Running<T, E> = {
      promise: Promise.resolve() as unknown as Promise<T>,
      history: [],
      listeners: new Set(listener !== undefined ? [listener] : [])
    };
    const emit = (event: E): void => {
      state.history.push(event);
      for (const l of state.listeners) {
        safeCall(l, event);
      }
    };
    state.promise = (async () => {
      try {
        return await work(emit);
      } finally {
        if (this.running.get(key) === state) {
          this.running.delete(key);
        }
      }
    })();
    this.running.set(key, state);
    return { promise: state.promise, joined: false };
  }
}

function safeCall<E>(listener: (event: E) => void, event: E): void {
  try {
    listener(event);
  } catch {
    // A listener's failure is its own business.
  }
}
