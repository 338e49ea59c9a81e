/**
 * The run backends the behaviour tests go over, behind one face: each runs a package through the
 * real backend and says what it can honestly promise, so that one test body serves them all.
 */
import Docker from 'dockerode';
import {
  detectSandbox,
  type SandboxMechanism
} from '../../src/backends/sandbox/detect';
import type { RunEdits } from '../../src/runs/edits';
import {
  dockerSocket,
  imageOf,
  leftContainers,
  podmanSocket,
  runPackage
} from './docker-run';
import type { FinishedRun, RunOptions } from './run-recorder';
import {
  leftSlurmRuns,
  runPackageOnSlurm,
  slurmRootfsOf,
  slurmShared
} from './slurm-run';
import {
  hashTree,
  leftRunTrees,
  rootfsOf,
  runPackageInSandbox
} from './sandbox-run';

export interface Backend {
  /** Shown in the tests' titles. */
  name: string;
  /** Resolves when the backend works here; otherwise rejects, saying why. */
  ready(): Promise<void>;
  /** Plans and runs a package, collecting every event. */
  run(
    rpz: string,
    edits?: RunEdits,
    options?: RunOptions
  ): Promise<FinishedRun>;
  /**
   * Whether the kernel itself (`/proc/self/status`) shows a step's recorded user and group;
   * proot fakes them only in the system calls it intercepts.
   */
  kernelSeesRecordedIds: boolean;
  /** Whether a run gets its recorded hostname and no network (proot shares the host's). */
  ownHostnameNoNetwork: boolean;
  /** What enforces the memory limit. */
  memoryLimit: string;
  /** A fingerprint of what every run of the package starts from (its image, its cached tree). */
  startingPoint(rpz: string): Promise<string>;
  /** What the runs left behind (containers, run trees); empty when each run removed its own. */
  leftovers(): Promise<string[]>;
}

export const dockerBackend: Backend = {
  name: 'Docker',
  ready: async () => {
    dockerSocket();
  },
  run: (rpz, edits = {}, options = {}) => runPackage(rpz, edits, options),
  kernelSeesRecordedIds: true,
  ownHostnameNoNetwork: true,
  memoryLimit: "the container's cgroup",
  startingPoint: async rpz => {
    const docker = new Docker({ socketPath: dockerSocket() });
    return (await docker.getImage(await imageOf(rpz)).inspect()).Id;
  },
  leftovers: leftContainers
};

/**
 * The Docker backend on rootless Podman (its Docker-compatible API). On this kind of machine
 * (cgroup v1) its containers get no cgroup: memory is an rlimit the helper sets on each step.
 */
export const podmanBackend: Backend = {
  name: 'Podman',
  ready: async () => {
    podmanSocket();
  },
  run: (rpz, edits = {}, options = {}) =>
    runPackage(rpz, edits, { ...options, socket: podmanSocket() }),
  kernelSeesRecordedIds: true,
  ownHostnameNoNetwork: true,
  memoryLimit: "the container's cgroup, or the helper's rlimit without one",
  startingPoint: async rpz => {
    const docker = new Docker({ socketPath: podmanSocket() });
    return (await docker.getImage(await imageOf(rpz, podmanSocket())).inspect())
      .Id;
  },
  leftovers: () => leftContainers(podmanSocket())
};

/** Each sandbox mechanism, and for bubblewrap both ways of giving a run its own tree. */
export const SANDBOX_CONFIGS: {
  name: string;
  mechanism: SandboxMechanism;
  isolation?: 'copy';
  ids?: 'one';
}[] = [
  { name: 'bwrap on an overlay', mechanism: 'bwrap' },
  { name: 'bwrap on a copy', mechanism: 'bwrap', isolation: 'copy' },
  { name: 'proot on a copy', mechanism: 'proot' },
  // What a user without /etc/subuid gets (Binder): identity changes emulated (`emulated-ids.ts`).
  { name: 'bwrap with one id', mechanism: 'bwrap', ids: 'one' }
];

/** Fails (every test of the mechanism, with this message) when the mechanism does not work here. */
export async function sandboxReady(mechanism: SandboxMechanism): Promise<void> {
  const status = await detectSandbox({ mechanism });
  if (!status.available) {
    throw new Error(
      `${mechanism} does not work on this host: ${status.detail}`
    );
  }
}

export function sandboxBackend(
  config: (typeof SANDBOX_CONFIGS)[number]
): Backend {
  const { mechanism, isolation, ids } = config;
  return {
    name: `Sandbox (${config.name})`,
    ready: () => sandboxReady(mechanism),
    run: (rpz, edits = {}, options = {}) =>
      runPackageInSandbox(rpz, edits, {
        ...options,
        mechanism,
        isolation,
        ids
      }),
    kernelSeesRecordedIds: mechanism === 'bwrap',
    ownHostnameNoNetwork: mechanism === 'bwrap',
    memoryLimit: 'cgroup or rlimit, whichever works',
    startingPoint: async rpz => hashTree((await rootfsOf(rpz)).root),
    leftovers: async () => leftRunTrees()
  };
}

/**
 * Slurm: each run a batch job on the one-node cluster of `scripts/services/slurm.sh`, running
 * bubblewrap with one id per step (identity changes emulated) on a copy in the shared folder.
 */
export const slurmBackend: Backend = {
  name: 'Slurm',
  ready: async () => {
    slurmShared();
    await sandboxReady('bwrap');
  },
  run: (rpz, edits = {}, options = {}) =>
    runPackageOnSlurm(rpz, edits, options),
  kernelSeesRecordedIds: true,
  ownHostnameNoNetwork: true,
  memoryLimit: "the sandbox's rlimit, and Slurm's --mem",
  startingPoint: async rpz => hashTree((await slurmRootfsOf(rpz)).root),
  leftovers: async () => leftSlurmRuns()
};

/** Every backend, as a `describe.each` table. */
export const BACKENDS: Backend[] = [
  dockerBackend,
  podmanBackend,
  ...SANDBOX_CONFIGS.map(sandboxBackend),
  slurmBackend
];
