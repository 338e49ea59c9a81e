import { request } from 'node:http';
import WebSocket from 'ws';
import type { RunEventMessage, RunRecord } from '../../src/contract/wire';
import type { RunningServer } from './server-process';

export interface Reply<T = unknown> {
  status: number;
  body: T;
  text: string;
}

/** A minimal client of the real server for contract tests: JSON in, JSON (or text) out. */
export class ApiClient {
  constructor(
    readonly server: RunningServer,
    readonly headers: Record<string, string> = {
      'x-reproserver-token': server.token
    }
  ) {}

  call<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {}
  ): Promise<Reply<T>> {
    return new Promise((resolve, reject) => {
      const data =
        body === undefined
          ? undefined
          : Buffer.isBuffer(body)
            ? body
            : Buffer.from(JSON.stringify(body));
      const req = request(
        new URL(path, this.server.url),
        { method, headers: { ...this.headers, ...headers } },
        res => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // Not JSON: an output's bytes or NDJSON.
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T, text });
          });
        }
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  /** Polls a run until it ends. */
  async waitForEnd(id: string, timeoutMs = 120_000): Promise<RunRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const run = (await this.call<RunRecord>('GET', `/api/runs/${id}`)).body;
      if (!['queued', 'building', 'running'].includes(run.status)) {
        return run;
      }
      if (Date.now() > deadline) {
        throw new Error(`run ${id} still ${run.status} after ${timeoutMs} ms`);
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
  }

  /** Follows a run's events over WebSocket from an offset until the server closes the socket. */
  follow(
    id: string,
    offset = 0,
    onMessage?: (message: RunEventMessage, socket: WebSocket) => void
  ): Promise<{ messages: RunEventMessage[]; code: number }> {
    return new Promise((resolve, reject) => {
      const url = new URL(
        `/api/runs/${id}/events?offset=${offset}`,
        this.server.url
      );
      url.protocol = 'ws:';
      const socket = new WebSocket(url, { headers: this.headers });
      const messages: RunEventMessage[] = [];
      socket.on('message', data => {
        const message = JSON.parse(data.toString()) as RunEventMessage;
        messages.push(message);
        onMessage?.(message, socket);
      });
      socket.on('close', code => resolve({ messages, code }));
      socket.on('error', reject);
    });
  }
}
