import type { ReproServerClient } from '../api/client';
import { PackageSession } from '../model/package';
import { BACKENDS, SHA, packageDetails } from './fixtures';

/**
 * A run's default memory limit has one source, the companion server (`defaultLimits` of
 * `GET /api/backends`, which leaves room for JupyterLab on a small machine); the user's setting
 * overrides it only when set (not 0).
 */
async function loadedSession(
  memoryMiB: number,
  defaultLimits: unknown
): Promise<PackageSession> {
  const client = {
    backends: async () => ({ ...BACKENDS, defaultLimits }),
    registerPackage: async () => ({
      sha256: SHA,
      name: 'shell-pipeline.rpz',
      size: 1,
      path: 'work/shell-pipeline.rpz',
      createdAt: ''
    }),
    getPackage: async () => packageDetails(),
    listRuns: async () => ({ runs: [] })
  };
  const session = new PackageSession(
    client as unknown as ReproServerClient,
    'work/shell-pipeline.rpz',
    {
      limits: { memoryMiB, timeoutSeconds: 600 },
      backend: 'sandbox',
      outputFolder: '',
      autoSave: true
    }
  );
  await session.load();
  return session;
}

const SERVER_DEFAULTS = {
  memoryMiB: 512,
  cpus: 1,
  pids: 512,
  timeoutSeconds: 3600,
  outputBytes: 1,
  logBytes: 1,
  diskMiB: 1
};

describe("a run's default limits", () => {
  it("are the server's when the memory setting is left at 0", async () => {
    const session = await loadedSession(0, SERVER_DEFAULTS);
    expect(session.edits!.limits).toEqual({
      memoryMiB: 512,
      timeoutSeconds: 600
    });
    expect(session.edits!.toRunEdits().limits?.memoryMiB).toBe(512);
  });

  it('follow the user when the setting is set', async () => {
    const session = await loadedSession(700, SERVER_DEFAULTS);
    expect(session.edits!.limits.memoryMiB).toBe(700);
  });

  it('are 2048 MiB with a server too old to say', async () => {
    const session = await loadedSession(0, undefined);
    expect(session.edits!.limits.memoryMiB).toBe(2048);
  });
});
