/**
 * The companion server as a real process, with the real Docker Engine the test command started.
 */
import { request } from 'node:http';
import { startServer, type RunningServer } from '../helpers/server-process';

interface Reply {
  status: number;
  body: unknown;
}

function call(
  server: RunningServer,
  path: string,
  headers: Record<string, string> = { 'x-reproserver-token': server.token },
  method = 'GET'
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, server.url), { method, headers }, res => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) })
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const dockerSocket = process.env.DOCKER_SOCKET;

describe('reproserver serve', () => {
  let server: RunningServer;

  beforeAll(async () => {
    if (!dockerSocket) {
      throw new Error(
        'DOCKER_SOCKET is not set: run these tests through ./reproserver-lab test'
      );
    }
    server = await startServer({ DOCKER_SOCKET: dockerSocket });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('listens on loopback only by default', () => {
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
  });

  it('answers health and version', async () => {
    const health = await call(server, '/api/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({
      status: 'ok',
      version: expect.any(String)
    });
    const version = await call(server, '/api/version');
    expect(version.body).toMatchObject({
      name: 'reproserver',
      node: process.version
    });
  });

  it('reports the real Docker Engine as available', async () => {
    const reply = await call(server, '/api/backends');
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      backends: [
        {
          name: 'docker',
          available: true,
          detail: expect.stringMatching(
            new RegExp(`^Docker Engine \\d+\\.\\d+\\S* at ${dockerSocket}$`)
          ),
          isolation: expect.objectContaining({
            files: true,
            network: true,
            processes: true,
            memory: 'cgroup'
          }),
          engine: {
            name: 'docker',
            version: expect.stringMatching(/^\d+\.\d+/),
            rootless: false,
            description: expect.stringMatching(/^Docker Engine \d+\.\d+\S*$/)
          }
        },
        {
          name: 'sandbox',
          available: true,
          detail: expect.stringMatching(/^Sandbox: /),
          isolation: expect.objectContaining({ files: expect.any(Boolean) })
        },
        {
          // The one-node cluster of scripts/services/slurm.sh; never the default.
          name: 'slurm',
          available: true,
          detail: expect.stringMatching(/^Slurm: 1 node up in partition /),
          isolation: expect.objectContaining({ memory: 'rlimit', cpu: 'none' })
        }
      ],
      default: 'docker',
      weakIsolation: 'ask',
      defaultLimits: expect.objectContaining({ memoryMiB: expect.any(Number) })
    });
  });

  it.each([
    ['no token', {}],
    ['a wrong token', { 'x-reproserver-token': 'wrong' }],
    ['a wrong Authorization token', { authorization: 'token wrong' }]
  ])('refuses a request with %s', async (_, headers) => {
    const reply = await call(server, '/api/health', headers);
    expect(reply.status).toBe(401);
    expect(reply.body).toMatchObject({ error: { code: 'unauthorized' } });
  });

  it('refuses a token given in the URL', async () => {
    const reply = await call(server, `/api/health?token=${server.token}`, {});
    expect(reply.status).toBe(401);
  });

  it('accepts "Authorization: token …"', async () => {
    const reply = await call(server, '/api/health', {
      authorization: `token ${server.token}`
    });
    expect(reply.status).toBe(200);
  });

  it('refuses cross-origin requests, even with the token', async () => {
    const reply = await call(server, '/api/health', {
      'x-reproserver-token': server.token,
      origin: 'http://evil.example'
    });
    expect(reply.status).toBe(403);
    expect(reply.body).toMatchObject({ error: { code: 'cross-origin' } });
  });

  it('answers unknown endpoints and methods with JSON errors', async () => {
    const missing = await call(server, '/api/nothing-here');
    expect(missing).toEqual({
      status: 404,
      body: {
        error: {
          code: 'not-found',
          message: 'No API endpoint at /api/nothing-here.'
        }
      }
    });
    const wrongMethod = await call(server, '/api/health', undefined, 'DELETE');
    expect(wrongMethod.status).toBe(405);
  });

  it('says why Docker is unavailable when no daemon answers, without hanging', async () => {
    const other = await startServer({
      DOCKER_SOCKET: '/nonexistent/docker.sock'
    });
    try {
      const started = Date.now();
      const reply = await call(other, '/api/backends', {
        'x-reproserver-token': other.token
      });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(reply.body).toEqual({
        backends: [
          {
            name: 'docker',
            available: false,
            detail: 'Docker: no daemon at /nonexistent/docker.sock.',
            isolation: null
          },
          {
            name: 'sandbox',
            available: true,
            detail: expect.stringMatching(/^Sandbox: /),
            isolation: expect.objectContaining({ files: expect.any(Boolean) })
          },
          {
            name: 'slurm',
            available: true,
            detail: expect.stringMatching(/^Slurm: /),
            isolation: expect.objectContaining({ memory: 'rlimit' })
          }
        ],
        // Without Docker, experiments run in the sandbox.
        default: 'sandbox',
        weakIsolation: 'ask',
        defaultLimits: expect.objectContaining({
          memoryMiB: expect.any(Number)
        })
      });
    } finally {
      await other.stop();
    }
  });

  it('exits cleanly on SIGTERM', async () => {
    const other = await startServer();
    expect(await other.stop('SIGTERM')).toBe(0);
  });
});

describe('reproserver serve on rootless Podman', () => {
  const podmanSocket = process.env.PODMAN_SOCKET;
  let server: RunningServer;

  beforeAll(async () => {
    if (!podmanSocket) {
      throw new Error(
        'PODMAN_SOCKET is not set: run these tests through ./reproserver-lab test'
      );
    }
    // The same option as for Docker: the server is pointed at Podman's compatible API.
    server = await startServer({ DOCKER_SOCKET: podmanSocket });
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('names the engine it found: Podman, rootless, and what it enforces', async () => {
    const reply = await call(server, '/api/backends');
    expect(reply.status).toBe(200);
    const body = reply.body as {
      backends: { name: string; isolation: { memory: string; cpu: string } }[];
      default: string;
    };
    const docker = body.backends.find(b => b.name === 'docker');
    expect(docker).toEqual({
      name: 'docker',
      available: true,
      detail: expect.stringMatching(
        new RegExp(
          `^Podman \\d+\\.\\d+\\.\\d+ \\(rootless\\) at ${podmanSocket}$`
        )
      ),
      isolation: expect.objectContaining({
        files: true,
        network: true,
        processes: true,
        // containers-common's seccomp profile allows unshare and clone.
        nestedUserNamespaces: true
      }),
      engine: {
        name: 'podman',
        version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
        rootless: true,
        description: expect.stringMatching(
          /^Podman \d+\.\d+\.\d+ \(rootless\)$/
        )
      }
    });
    // Without a cgroup of its own (cgroup v1, or none delegated), memory is the helper's rlimit.
    const { memory, cpu } = docker!.isolation;
    expect([memory, cpu]).toEqual(
      memory === 'cgroup' ? ['cgroup', 'cgroup'] : ['rlimit', 'none']
    );
    expect(body.default).toBe('docker');
  });
});
