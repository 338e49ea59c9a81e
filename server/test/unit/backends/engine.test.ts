/**
 * Telling Docker from Podman, and what the Docker backend asks differently of Podman: the facts
 * from each engine's answers, and Docker's requests left exactly as they were.
 */
import { dockerIsolation } from '../../../src/backends/detect';
import {
  describeEngine,
  podmanEngine,
  type EngineInfo
} from '../../../src/backends/docker/engine';
import {
  archiveKeepsOwners,
  importTarget,
  stepLimitEnv
} from '../../../src/backends/docker/podman-quirks';

const docker: EngineInfo = {
  name: 'docker',
  version: '20.10.24+dfsg1',
  rootless: false,
  cgroupLimits: true,
  architecture: 'amd64'
};

describe('the engine', () => {
  it('says which engine it is, in the words the panel shows', () => {
    expect(describeEngine(docker)).toBe('Docker Engine 20.10.24+dfsg1');
    expect(
      describeEngine({
        ...docker,
        name: 'podman',
        version: '4.3.1',
        rootless: true
      })
    ).toBe('Podman 4.3.1 (rootless)');
  });

  it("takes rootless Podman's limits from its own info: none on cgroup v1", () => {
    const host = (cgroupVersion: string, cgroupControllers: string[]) => ({
      host: { security: { rootless: true }, cgroupVersion, cgroupControllers }
    });
    expect(podmanEngine('4.3.1', host('v1', []))).toEqual({
      name: 'podman',
      version: '4.3.1',
      rootless: true,
      cgroupLimits: false,
      architecture: ''
    });
    expect(
      podmanEngine('5.4.0', host('v2', ['cpu', 'pids'])).cgroupLimits
    ).toBe(false);
    expect(
      podmanEngine('5.4.0', host('v2', ['cpu', 'memory', 'pids'])).cgroupLimits
    ).toBe(true);
    // Rootful Podman owns the cgroup tree.
    expect(
      podmanEngine('4.3.1', { host: { security: { rootless: false } } })
    ).toMatchObject({ rootless: false, cgroupLimits: true });
  });
});

describe("Podman's differences", () => {
  const podman: EngineInfo = {
    name: 'podman',
    version: '4.3.1',
    rootless: true,
    cgroupLimits: false,
    architecture: 'amd64'
  };
  const limits = { memoryMiB: 64, pids: 100 };

  it("leaves Docker's requests as they were", () => {
    expect(stepLimitEnv(docker, limits, 4096, 1 << 20)).toEqual([]);
    expect(importTarget(docker, 'r/rpz', 'abc')).toEqual({
      repo: 'r/rpz',
      tag: 'abc'
    });
    expect(archiveKeepsOwners(docker)).toBe(true);
    expect(dockerIsolation(docker)).toEqual(dockerIsolation());
  });

  it('has the helper set the limits Podman drops, and the memory it cannot', () => {
    expect(stepLimitEnv(podman, limits, 4096, 1 << 20)).toEqual([
      'RPZ_EXEC_NOFILE=4096',
      `RPZ_EXEC_FSIZE=${1 << 20}`,
      `RPZ_EXEC_AS=${64 << 20}`,
      'RPZ_EXEC_NPROC=100'
    ]);
    expect(
      stepLimitEnv({ ...podman, cgroupLimits: true }, limits, 4096, 1 << 20)
    ).toEqual(['RPZ_EXEC_NOFILE=4096', `RPZ_EXEC_FSIZE=${1 << 20}`]);
    expect(dockerIsolation(podman)).toMatchObject({
      memory: 'rlimit',
      cpu: 'none',
      nestedUserNamespaces: true
    });
  });

  it('tags an import within `repo`, and asks the helper for owners', () => {
    expect(importTarget(podman, 'r/rpz', 'abc')).toEqual({ repo: 'r/rpz:abc' });
    expect(archiveKeepsOwners(podman)).toBe(false);
  });
});
