/**
 * Where Podman's Docker-compatible API (checked on Debian 12's Podman 4.3, rootless) does not do
 * what Docker does with the same request, and what a run does instead. Docker never takes these
 * paths: each function gives Docker's request unchanged.
 *
 * - `HostConfig.Ulimits` are ignored in rootless mode (fixed in Podman 5.5), and a rootless
 *   container on cgroup v1 gets no cgroup at all (Memory, NanoCpus, PidsLimit are dropped with a
 *   warning). The helper sets the same limits as rlimits on each step (`stepLimitEnv`): open files
 *   and file size always, and where no cgroup holds, address space and processes, as the sandbox
 *   does without a cgroup. (RLIMIT_NPROC counts every process of the step's user in the engine's
 *   user namespace: concurrent runs share that budget, and a root step shares it with the
 *   engine's own processes, among them each exec's monitor, which Podman keeps for
 *   `exit_command_delay` after the exec ended, 300 s by default: keep that short.)
 * - `POST /images/create?fromSrc=-` (import) ignores `tag` and tags the image `latest`; it takes
 *   the tag within `repo`, as Docker also documents (`importTarget`).
 * - `GET /containers/{id}/archive` gives every file the container's user as owner (Podman copies
 *   out as `podman cp` does): the outputs' owners are asked of the helper (`ownersInContainer`).
 * - A container made with `User` set gets lines added to its /etc/passwd and /etc/group when the
 *   user is not in them (a package's root filesystem often has no root line), and those files then
 *   look changed by the experiment. Root is the default of an image that names no user, so the
 *   user is left out for such images (`containerUser`).
 */
import type Docker from 'dockerode';
import { runAttached } from './attached-exec';
import { HELPER } from './layout';
import type { RunLimits } from '../../runs/edits';
import type { EngineInfo } from './engine';

/** The `repo` and `tag` of an import request that tag the image `repository:tag`. */
export function importTarget(
  engine: EngineInfo,
  repository: string,
  tag: string
): { repo: string; tag?: string } {
  return engine.name === 'podman'
    ? { repo: `${repository}:${tag}` }
    : { repo: repository, tag };
}

/** The `User` of a run's container: Docker's "0:0", or nothing where that is root already. */
export async function containerUser(
  docker: Docker,
  engine: EngineInfo,
  image: string
): Promise<string | undefined> {
  if (engine.name !== 'podman') {
    return '0:0';
  }
  const info = await docker.getImage(image).inspect();
  const user = info.Config?.User ?? '';
  return user === '' || user === '0' || user === 'root' ? undefined : '0:0';
}

/**
 * The environment of a step's helper (`rpz-exec step`) that makes it set the run's limits on the
 * step as rlimits, where the engine did not (see above); empty on Docker.
 */
export function stepLimitEnv(
  engine: EngineInfo,
  limits: Pick<RunLimits, 'memoryMiB' | 'pids'>,
  openFiles: number,
  fileBytes: number
): string[] {
  if (engine.name !== 'podman') {
    return [];
  }
  const env = [`RPZ_EXEC_NOFILE=${openFiles}`, `RPZ_EXEC_FSIZE=${fileBytes}`];
  if (!engine.cgroupLimits) {
    env.push(
      `RPZ_EXEC_AS=${Math.floor(limits.memoryMiB * 1024 * 1024)}`,
      `RPZ_EXEC_NPROC=${limits.pids}`
    );
  }
  return env;
}

/** Whether the engine's archive API gives files their own owners (Docker does). */
export function archiveKeepsOwners(engine: EngineInfo): boolean {
  return engine.name !== 'podman';
}

/** Paths per exec of `rpz-exec owners`, far below the kernel's argument limits. */
const OWNER_PATHS_PER_EXEC = 500;

/**
 * The owners of `paths` in the container, as `rpz-exec owners` reads them (lstat, as root); none
 * when the container no longer runs.
 */
export async function ownersInContainer(
  docker: Docker,
  container: Docker.Container,
  paths: string[]
): Promise<Map<string, { uid: number; gid: number }>> {
  const owners = new Map<string, { uid: number; gid: number }>();
  // Execs need a running container: after a kill (a limit, a cancel) the archive's owners stay.
  if (paths.length === 0 || !(await container.inspect()).State.Running) {
    return owners;
  }
  for (let at = 0; at < paths.length; at += OWNER_PATHS_PER_EXEC) {
    const batch = paths.slice(at, at + OWNER_PATHS_PER_EXEC);
    // Two numbers of at most ten digits per path: anything longer is not the helper's.
    const room = batch.length * 24;
    let text = '';
    await runAttached(
      docker,
      container,
      { Cmd: [HELPER, 'owners', ...batch], User: '0:0' },
      chunk => {
        text += chunk.toString('latin1').slice(0, room - text.length);
      }
    );
    const lines = text.split('\n');
    batch.forEach((path, index) => {
      const match = /^(\d{1,10}) (\d{1,10})$/.exec(lines[index] ?? '');
      if (match) {
        owners.set(path, { uid: Number(match[1]), gid: Number(match[2]) });
      }
    });
  }
  return owners;
}
