import type {
  BackendIsolation,
  BackendStatus,
  ContainerEngine
} from '../contract/wire';
import type { ServerConfig } from '../config';
import {
  describeEngine,
  identifyEngine,
  type EngineInfo
} from './docker/engine';
import { pingDocker } from './docker/ping';
import {
  capabilitiesOfThisProcess,
  capabilityNames,
  dockerRootCapabilities,
  lastCapability,
  userNamespacesAllowed
} from './isolation-facts';
import { detectSandbox, type SandboxStatus } from './sandbox/detect';
import { detectSlurm } from './slurm/detect';

/**
 * Which backends can run experiments on this host right now, why not, and what each isolates.
 * Docker is asked each time (a daemon may come and go); the sandbox probe is done once per process.
 */
export async function detectBackends(
  config: ServerConfig
): Promise<BackendStatus[]> {
  const [docker, sandbox, slurm] = await Promise.all([
    pingDocker(config.dockerSocket),
    detectSandbox(),
    detectSlurm()
  ]);
  // Which engine answers (Docker, or Podman's compatible API): named, and what it enforces.
  const engine = docker.ok
    ? await identifyEngine(config.dockerSocket).catch(() => null)
    : null;
  return [
    {
      name: 'docker',
      available: docker.ok,
      detail: docker.ok
        ? `${engine ? describeEngine(engine) : 'Docker Engine'} at ${config.dockerSocket}`
        : `Docker: ${docker.reason}${config.dockerUnavailable ? ` (setup said: ${config.dockerUnavailable})` : ''}.`,
      isolation: docker.ok ? dockerIsolation(engine ?? undefined) : null,
      // Only when something answered: an unavailable backend's entry stays as it was.
      ...(docker.ok ? { engine: engine && containerEngine(engine) } : {})
    },
    {
      name: 'sandbox',
      available: sandbox.available,
      detail: sandbox.detail,
      isolation: sandbox.available ? await sandboxIsolation(sandbox) : null
    },
    {
      // A batch job running this sandbox on nodes like this host (docs/cluster.md).
      name: 'slurm',
      available: slurm.available && sandbox.available,
      // The sandbox's own detail speaks of this host's overlay and cgroups, not a job's.
      detail:
        slurm.available && sandbox.available
          ? `${slurm.detail} Steps in ${sandbox.mechanism === 'bwrap' ? 'bubblewrap' : 'proot'} on a copy of the package's tree, limited by rlimits and by Slurm.`
          : slurm.available
            ? `${slurm.detail} ${sandbox.detail}`
            : slurm.detail,
      // Steps keep the sandbox's rlimits (no cgroup of ours on a node); Slurm adds its own.
      isolation:
        slurm.available && sandbox.available
          ? {
              ...(await sandboxIsolation(sandbox)),
              memory: sandbox.prlimit ? 'rlimit' : 'none',
              cpu: 'none'
            }
          : null
    }
  ];
}

/** The engine as the API states it (`ContainerEngine`). */
function containerEngine(engine: EngineInfo): ContainerEngine {
  const { name, version, rootless } = engine;
  return { name, version, rootless, description: describeEngine(engine) };
}

/**
 * A container with network `none`, its own pid namespace and no host folder mounted writable;
 * a root step keeps Docker's default capabilities minus the ones experiments do not need, a
 * non-root step none (`rpz-exec` clears them); Docker's seccomp profile refuses new user
 * namespaces. Limits: the container's cgroup; disk use by measuring the writable layer.
 * Podman: its default capabilities are a subset of Docker's and lose the same ones, so a root
 * step ends with the same set; its seccomp profile (containers-common) allows `unshare` and
 * `clone` with any flags, so nested user namespaces are not refused. Where its containers get no
 * cgroup (rootless on cgroup v1), the helper sets memory (address space) and processes as
 * rlimits on each step, and CPU is not limited (`podman-quirks.ts`).
 */
export function dockerIsolation(engine?: EngineInfo): BackendIsolation {
  const cgroup = engine?.cgroupLimits ?? true;
  return {
    files: true,
    network: true,
    processes: true,
    nestedUserNamespaces: engine?.name === 'podman',
    capabilities: {
      scope: 'container',
      root: dockerRootCapabilities(),
      nonRoot: []
    },
    memory: cgroup ? 'cgroup' : 'rlimit',
    cpu: cgroup ? 'cgroup' : 'none',
    disk: 'polling'
  };
}

/**
 * bubblewrap: own user, pid, network, IPC and UTS namespaces over the run's own tree, so files,
 * network and processes are isolated; a root step holds its capabilities in its own user
 * namespace only. proot: ptrace only, so nothing but the view of `/` changes: `/proc/<pid>/root`
 * of any host process leads to the host's files, the network is the host's, host processes are
 * visible; a step is the server's user, with its capabilities and its processes' environments,
 * or, under a root server, an unprivileged user of its own with none (`hostUser`).
 * Confined steps (`sandbox/confine.ts`): files and network are isolated as far as the probe found
 * them refused from inside (Landlock, seccomp); host processes stay visible under proot, so
 * `processes` stays false there, and `confinement` says what of them is out of reach.
 */
export async function sandboxIsolation(
  sandbox: SandboxStatus
): Promise<BackendIsolation> {
  const memory =
    sandbox.limits === 'cgroup-v1' || sandbox.limits === 'cgroup-v2'
      ? 'cgroup'
      : sandbox.prlimit
        ? 'rlimit'
        : 'none';
  const cpu = memory === 'cgroup' ? 'cgroup' : 'none';
  const confined = sandbox.confinement;
  const confinement = confined
    ? {
        landlockAbi: confined.landlockAbi,
        seccomp: confined.seccomp,
        processSecrets: confined.processSecrets,
        signals: confined.signals
      }
    : null;
  if (sandbox.mechanism === 'bwrap') {
    return {
      files: true,
      network: true,
      processes: true,
      // The filter refuses new namespaces whatever bubblewrap can forbid.
      nestedUserNamespaces: !sandbox.disableUserns && !confined?.seccomp,
      capabilities: {
        scope: 'user-namespace',
        root:
          sandbox.rootCapabilities ??
          capabilityNames(allCapabilities(await lastCapability())),
        nonRoot: []
      },
      confinement,
      memory,
      cpu,
      disk: sandbox.diskLimit ?? 'none'
    };
  }
  // Under a root server each run is a user of its own without capabilities (`run-user.ts`).
  const own = sandbox.runUser
    ? []
    : capabilityNames(await capabilitiesOfThisProcess());
  return {
    files: confined?.files ?? false,
    network: confined?.network ?? false,
    processes: false,
    nestedUserNamespaces: confined?.seccomp
      ? false
      : own.includes('SYS_ADMIN')
        ? true
        : await userNamespacesAllowed(),
    capabilities: { scope: 'host', root: own, nonRoot: own },
    hostUser: sandbox.runUser ? 'unprivileged' : 'server',
    confinement,
    memory,
    cpu,
    disk: sandbox.diskLimit ?? 'none'
  };
}

function allCapabilities(last: number): bigint {
  return (1n << BigInt(last + 1)) - 1n;
}
