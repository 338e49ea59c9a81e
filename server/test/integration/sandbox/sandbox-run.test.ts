/**
 * What only the sandbox backend does (bubblewrap, and proot where it works), on root filesystems
 * from the real cache, with packages from the real reprozip. Every behaviour it shares with the
 * Docker backend, the table of example cases included, is tested over both in
 * `../runs/backend-behaviour.test.ts`.
 */
import { detectSandbox } from '../../../src/backends/sandbox/detect';
import { SANDBOX_CONFIGS, sandboxReady } from '../../helpers/backends';
import { example } from '../../helpers/examples';
import { leftRunTrees, runPackageInSandbox } from '../../helpers/sandbox-run';

jest.setTimeout(180_000);

const TABLE = SANDBOX_CONFIGS.map(c => [c.name, c] as const);

describe.each(TABLE)(
  'Sandbox backend (%s): limits of its own',
  (_name, config) => {
    beforeAll(() => sandboxReady(config.mechanism));

    it('ends a memory hog with out-of-memory under rlimits too', async () => {
      // Where cgroups cannot be had, address-space rlimits bound memory instead (Docker has no
      // such fallback: it always has the container's cgroup).
      const python = example('python-options');
      const run = await runPackageInSandbox(
        python.rpz,
        {
          stepEdits: [
            {
              step: 0,
              argv: ['python3', '-S', '-c', 'a = bytearray(512 * 1024 * 1024)']
            }
          ],
          limits: { memoryMiB: 64 }
        },
        { ...config, limits: 'rlimit' }
      );
      expect(run.result).toMatchObject({
        status: 'out-of-memory',
        failedStep: 0
      });
    });
  }
);

describe('Sandbox backend: the host', () => {
  it('says which mechanism it uses and how, in one sentence', async () => {
    const status = await detectSandbox();
    expect(status).toMatchObject({
      available: true,
      mechanism: 'bwrap',
      isolation: 'overlay',
      // bubblewrap 0.8 here: steps run with --disable-userns.
      disableUserns: true,
      diskLimit: 'polling'
    });
    expect(status.detail).toMatch(/^Sandbox: bubblewrap \d+\.\d+/);
    expect(status.detail).toContain('no nested user namespaces');
  });
});

afterAll(() => {
  // Every run removed its tree.
  expect(leftRunTrees()).toEqual([]);
});
