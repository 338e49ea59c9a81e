/**
 * `reproserver build` shows progress in the same byte units as `inspect` and the panel. The
 * build itself is faked: this is about the words on stderr.
 */
import type { BuildOptions } from '../../../src/build';
import { buildCommand } from '../../../src/cli/build';

jest.mock('../../../src/build', () => ({
  buildImage: async (_path: string, options: BuildOptions) => {
    const time = new Date().toISOString();
    options.onEvent?.({
      type: 'progress',
      time,
      phase: 'building',
      bytes: 512 * 1024,
      totalBytes: 3 * 1024 * 1024,
      entries: 7
    });
    options.onEvent?.({
      type: 'progress',
      time,
      phase: 'pulling',
      bytes: 300,
      totalBytes: 0,
      entries: 0
    });
    return { image: 'reproserver/x:1' };
  }
}));

it('writes build progress in binary units', async () => {
  let stderr = '';
  let stdout = '';
  const code = await buildCommand(
    ['x.rpz', '--no-registry'],
    {
      stdout: { write: (s: string) => ((stdout += s), true) },
      stderr: { isTTY: false, write: (s: string) => ((stderr += s), true) }
    },
    { REPROSERVER_DOCKER_SOCKET: '/nonexistent.sock' }
  );
  expect(code).toBe(0);
  expect(stdout).toBe('reproserver/x:1\n');
  expect(stderr).toContain('  building: 512.0 KiB / 3.0 MiB, 7 entries\n');
});
