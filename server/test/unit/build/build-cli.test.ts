import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { buildCommand } from '../../../src/cli/build';

function io(isTTY = false) {
  const out = { stdout: '', stderr: '' };
  return {
    out,
    io: {
      stdout: { write: (s: string) => ((out.stdout += s), true) },
      stderr: { isTTY, write: (s: string) => ((out.stderr += s), true) }
    }
  };
}

describe('reproserver build', () => {
  it('prints its usage with --help', async () => {
    const { out, io: streams } = io();
    expect(await buildCommand(['--help'], streams, {})).toBe(0);
    expect(out.stdout).toMatch(/^Usage: reproserver build PACKAGE/);
  });

  it.each([
    [[], /give exactly one package/],
    [['a.rpz', 'b.rpz'], /give exactly one package/],
    [['a.rpz', '--frobnicate'], /unknown option --frobnicate/],
    [['a.rpz', '--registry'], /--registry needs a value/],
    [
      ['a.rpz', '--registry', 'x:1', '--no-registry'],
      /--registry or --no-registry, not both/
    ]
  ])('refuses %j with exit code 2', async (args, message) => {
    const { out, io: streams } = io();
    expect(await buildCommand(args, streams, {})).toBe(2);
    expect(out.stderr).toMatch(message);
    expect(out.stdout).toBe('');
  });

  it('says in one sentence, fast, that Docker is missing (socket from the environment)', async () => {
    const { out, io: streams } = io();
    const socket = join(tmpdir(), `no-docker-${process.pid}.sock`);
    const start = Date.now();
    const code = await buildCommand(['whatever.rpz'], streams, {
      DOCKER_HOST: `unix://${socket}`
    });
    expect(Date.now() - start).toBeLessThan(3000);
    expect(code).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(
      `Docker is not available (no daemon at ${socket}); start the Docker Engine or give its socket with --docker-socket (DOCKER_SOCKET).\n`
    );
  });

  it('writes events as JSON lines with --json', async () => {
    const { out, io: streams } = io();
    const code = await buildCommand(
      ['whatever.rpz', '--json', '--docker-socket', '/nonexistent/d.sock'],
      streams,
      {}
    );
    expect(code).toBe(1);
    const [event] = out.stderr.trim().split('\n');
    expect(JSON.parse(event)).toMatchObject({
      type: 'error',
      code: 'docker-unavailable'
    });
  });
});
