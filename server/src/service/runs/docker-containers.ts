/**
 * The Docker containers of a run, found by the label every run's container carries (a restarted
 * server finds them again by it). Without an engine there are none.
 */
import type Docker from 'dockerode';

/** The label naming the run a container belongs to. */
export const RUN_LABEL = 'org.reproserver.run';

/** The labels a run's containers are created with. */
export const runLabels = (runId: string): Record<string, string> => ({
  [RUN_LABEL]: runId
});

async function listOf(
  docker: Docker,
  runId: string
): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({
    all: true,
    filters: { label: [`${RUN_LABEL}=${runId}`] }
  });
}

/** The container of a Docker run, if the engine still has it (running or not). */
export async function containerOf(
  docker: Docker,
  runId: string
): Promise<Docker.Container | undefined> {
  try {
    const [info] = await listOf(docker, runId);
    return info ? docker.getContainer(info.Id) : undefined;
  } catch {
    return undefined;
  }
}

/** Removes every container of a run, running or not. */
export async function removeContainers(
  docker: Docker,
  runId: string
): Promise<void> {
  try {
    for (const info of await listOf(docker, runId)) {
      await docker.getContainer(info.Id).remove({ force: true });
    }
  } catch {
    // No engine: nothing of this run can be running there either.
  }
}
