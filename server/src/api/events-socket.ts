/**
 * `WS /api/runs/:id/events?offset=N`: the run's events from byte offset N, then live ones as they
 * are appended, one `RunEventMessage` per message; the socket closes (1000) after the run's end.
 * A client that lost its connection reconnects with the offset of the last message it got and
 * misses nothing, sees nothing twice. A slow client only slows its own stream: the next event is
 * read from the log when the previous one has been handed to the socket.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { RunService } from '../service/runs';
import { EventLogOffsetError, type EventLogs } from '../store';
import { checkOrigin, type Authenticator } from './auth';
import { ApiError, errorAnswer } from './errors';
import { offsetOf } from './routes';
import { EVENTS_SOCKET_PROTOCOL, type RunEventMessage } from '../contract/wire';

const PATH = /^\/api\/runs\/([A-Za-z0-9_-]{1,64})\/events$/;
/** Proxies (jupyter-server-proxy, Binder's) drop idle connections; pings keep them open. */
const HEARTBEAT_MS = 25_000;

export class EventsSocket {
  constructor(
    private readonly authenticate: Authenticator,
    private readonly runs: RunService,
    private readonly logs: EventLogs
  ) {}

  /** Handles an HTTP upgrade: authenticates, then streams; refuses with an HTTP status otherwise. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    let runId: string;
    let offset: number;
    try {
      checkOrigin(request);
      const user = this.authenticate(request, { socket: true });
      const url = new URL(request.url ?? '/', 'http://server');
      const match = PATH.exec(url.pathname);
      if (!match) {
        throw new ApiError(
          'not-found',
          `No WebSocket endpoint at ${url.pathname}.`
        );
      }
      runId = match[1];
      // Another user's run is refused as an unknown one (a shared server).
      this.runs.get(runId, user);
      offset = offsetOf(url);
    } catch (error) {
      const answer = errorAnswer(error);
      const status = answer.status;
      const body = JSON.stringify(answer.body);
      socket.end(
        `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Refused'}\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
      );
      return;
    }
    this._wss.handleUpgrade(
      request,
      socket,
      head,
      ws => void this._stream(ws, runId, offset)
    );
  }

  /** Closes every open stream (server shutdown); clients reconnect to the next server. */
  close(): void {
    for (const client of this._wss.clients) {
      client.close(1001, 'The server is stopping.');
    }
    this._wss.close();
  }

  private async _stream(
    ws: WebSocket,
    runId: string,
    offset: number
  ): Promise<void> {
    const abort = new AbortController();
    let alive = true;
    const heartbeat = setInterval(() => {
      if (!alive) {
        ws.terminate();
        return;
      }
      alive = false;
      ws.ping();
    }, HEARTBEAT_MS);
    ws.on('pong', () => (alive = true));
    ws.on('close', () => abort.abort());
    ws.on('error', () => abort.abort());
    try {
      const result = await this.logs.follow(
        runId,
        offset,
        (event, nextOffset) =>
          new Promise<void>((resolve, reject) => {
            const message: RunEventMessage = { offset: nextOffset, event };
            ws.send(JSON.stringify(message), error =>
              error ? reject(error) : resolve()
            );
          }),
        abort.signal
      );
      if (result.reason !== 'aborted') {
        ws.close(
          1000,
          result.reason === 'end'
            ? 'The run has ended.'
            : 'The run was deleted.'
        );
      }
    } catch (error) {
      if (!abort.signal.aborted) {
        const message =
          error instanceof EventLogOffsetError
            ? error.message
            : 'The event stream failed on the server.';
        ws.close(
          error instanceof EventLogOffsetError ? 4400 : 1011,
          message.slice(0, 120)
        );
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  private readonly _wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    // The token subprotocol is never echoed back: only the protocol itself is selected.
    handleProtocols: protocols =>
      protocols.has(EVENTS_SOCKET_PROTOCOL) ? EVENTS_SOCKET_PROTOCOL : false
  });
}
