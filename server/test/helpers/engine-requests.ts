import { mkdtempSync, rmSync } from 'node:fs';
import {
  createConnection,
  createServer,
  type Server,
  type Socket
} from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A unix socket in front of an engine's that passes everything through and notes the request
 * line of each HTTP request a client sends (`GET /v1.41/containers/…/archive?path=… HTTP/1.1`):
 * what a backend asked of the engine. A request line is looked for at the start of each chunk
 * and after each blank line, where requests start; request bodies are not parsed.
 */
export class EngineRequests {
  readonly socketPath: string;
  readonly lines: string[] = [];
  private readonly open = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly dir: string
  ) {
    this.socketPath = join(dir, 'engine.sock');
  }

  static async start(engineSocket: string): Promise<EngineRequests> {
    const dir = mkdtempSync(join(tmpdir(), 'engine-requests-'));
    const server = createServer();
    const requests = new EngineRequests(server, dir);
    server.on('connection', client => {
      const engine = createConnection(engineSocket);
      requests.open.add(client).add(engine);
      client.on('close', () => requests.open.delete(client));
      engine.on('close', () => requests.open.delete(engine));
      client.on('data', (chunk: Buffer) => requests.note(chunk));
      client.pipe(engine).pipe(client);
      client.on('error', () => engine.destroy());
      engine.on('error', () => client.destroy());
    });
    await new Promise<void>(resolve =>
      server.listen(requests.socketPath, resolve)
    );
    return requests;
  }

  /** The paths of the `GET …/archive?path=` requests: files copied out of containers. */
  archiveReads(): string[] {
    return this.lines.flatMap(line => {
      const match = /^GET \S*\/containers\/[^/]+\/archive\?path=(\S+) /.exec(
        line
      );
      return match ? [decodeURIComponent(match[1])] : [];
    });
  }

  async stop(): Promise<void> {
    const closed = new Promise(resolve => this.server.close(resolve));
    // Clients keep connections alive: they end with the proxy.
    for (const socket of this.open) {
      socket.destroy();
    }
    await closed;
    rmSync(this.dir, { recursive: true, force: true });
  }

  private note(chunk: Buffer): void {
    const text = chunk.toString('latin1');
    for (const match of text.matchAll(
      /(?:^|\r\n\r\n)((?:GET|HEAD|POST|PUT|DELETE) \S+ HTTP\/1\.[01])/g
    )) {
      this.lines.push(match[1]);
    }
  }
}
