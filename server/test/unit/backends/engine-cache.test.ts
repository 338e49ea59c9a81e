/**
 * The engine behind a socket is asked once: Docker's `GET /version` runs two programs in the
 * engine each time, and builds and runs used to ask it every time. A fake engine on a unix
 * socket counts what it is asked.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { engineOf, forgetEngine } from '../../../src/backends/docker/engine';

let dir: string;
let server: Server;
let socketPath: string;
let asked: string[];
let failVersion: boolean;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'engine-cache-'));
  socketPath = join(dir, 'engine.sock');
  asked = [];
  failVersion = false;
  server = createServer((req, res) => {
    asked.push(req.url ?? '');
    if (req.url === '/version' && failVersion) {
      res.writeHead(500).end('{}');
    } else if (req.url === '/version') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ Version: '20.10.24', Arch: 'amd64' }));
    } else {
      res.writeHead(200).end(JSON.stringify({ SecurityOptions: [] }));
    }
  });
  await new Promise<void>(resolve => server.listen(socketPath, resolve));
});

afterEach(async () => {
  forgetEngine(socketPath);
  await new Promise(resolve => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const client = (): Docker => new Docker({ socketPath });

describe('the engine behind a socket', () => {
  it('is asked once, whichever client asks', async () => {
    const first = await engineOf(client());
    const second = await engineOf(client());
    expect(first).toEqual({
      name: 'docker',
      version: '20.10.24',
      rootless: false,
      cgroupLimits: true,
      architecture: 'amd64'
    });
    expect(second).toBe(first);
    expect(asked.filter(url => url === '/version')).toHaveLength(1);
  });

  it('is asked again after a failure', async () => {
    failVersion = true;
    await expect(engineOf(client())).rejects.toThrow('HTTP 500');
    failVersion = false;
    await expect(engineOf(client())).resolves.toMatchObject({
      architecture: 'amd64'
    });
    expect(asked.filter(url => url === '/version')).toHaveLength(2);
  });

  it('is asked again once forgotten (the daemon went away)', async () => {
    await engineOf(client());
    forgetEngine(socketPath);
    await engineOf(client());
    expect(asked.filter(url => url === '/version')).toHaveLength(2);
  });
});
