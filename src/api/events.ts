import { Signal, type ISignal } from '@lumino/signaling';
import type { RunEventMessage } from 'reproserver/contract';
import type { IEventSocket } from './client';

/** Whether the live log is connected. */
export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What the stream needs from the client: a socket for a run from an offset. */
export interface IEventSocketFactory {
  openEvents(id: string, offset: number): IEventSocket;
}

/**
 * The live events of one run over WebSocket. Every message carries the log offset just after it;
 * when the connection drops before the run's `end` event, it reconnects with the last offset
 * (with backoff), and a message at or before that offset is never delivered twice.
 */
export class RunEventStream {
  constructor(
    private readonly _client: IEventSocketFactory,
    readonly runId: string,
    offset = 0,
    private readonly _options: { minDelayMs?: number; maxDelayMs?: number } = {}
  ) {
    this._offset = offset;
  }

  /** Each new event, in order. */
  get received(): ISignal<this, RunEventMessage> {
    return this._received;
  }

  get stateChanged(): ISignal<this, StreamState> {
    return this._stateChanged;
  }

  get state(): StreamState {
    return this._state;
  }

  /** The offset after the last event delivered. */
  get offset(): number {
    return this._offset;
  }

  start(): void {
    if (this._stopped || this._socket) {
      return;
    }
    this._connect();
  }

  /** Closes the connection for good. */
  stop(): void {
    this._stopped = true;
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    const socket = this._socket;
    this._socket = null;
    if (socket) {
      socket.onclose = null;
      socket.onmessage = null;
      socket.onerror = null;
      socket.close();
    }
    this._setState('closed');
  }

  private _connect(): void {
    this._setState(this._attempt === 0 ? 'connecting' : 'reconnecting');
    let socket: IEventSocket;
    try {
      socket = this._client.openEvents(this.runId, this._offset);
    } catch (error) {
      console.error('reproserver: cannot open the run events socket.', error);
      this._scheduleReconnect();
      return;
    }
    this._socket = socket;
    socket.onopen = () => {
      this._attempt = 0;
      this._setState('open');
    };
    socket.onmessage = event => this._onMessage(event.data);
    socket.onerror = () => {
      // A close event always follows; reconnection is decided there.
    };
    socket.onclose = () => {
      this._socket = null;
      if (this._ended || this._stopped) {
        this._setState('closed');
        return;
      }
      this._scheduleReconnect();
    };
  }

  private _onMessage(data: unknown): void {
    if (typeof data !== 'string') {
      return;
    }
    let message: RunEventMessage;
    try {
      message = JSON.parse(data) as RunEventMessage;
    } catch {
      console.warn('reproserver: ignoring a malformed event message.');
      return;
    }
    if (typeof message.offset !== 'number' || message.offset <= this._offset) {
      return; // Already delivered before a reconnection.
    }
    this._offset = message.offset;
    if (message.event?.type === 'end') {
      this._ended = true;
    }
    this._received.emit(message);
  }

  private _scheduleReconnect(): void {
    if (this._stopped) {
      return;
    }
    const min = this._options.minDelayMs ?? 500;
    const max = this._options.maxDelayMs ?? 15000;
    const delay = Math.min(max, min * 2 ** this._attempt);
    this._attempt++;
    this._setState('reconnecting');
    this._timer = setTimeout(() => {
      this._timer = null;
      if (!this._stopped) {
        this._connect();
      }
    }, delay);
  }

  private _setState(state: StreamState): void {
    if (state !== this._state) {
      this._state = state;
      this._stateChanged.emit(state);
    }
  }

  private _offset: number;
  private _attempt = 0;
  private _ended = false;
  private _stopped = false;
  private _socket: IEventSocket | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _state: StreamState = 'closed';
  private _received = new Signal<this, RunEventMessage>(this);
  private _stateChanged = new Signal<this, StreamState>(this);
}
