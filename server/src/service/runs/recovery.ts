/**
 * What a (re)started server does with the runs an earlier one left building or running: the
 * records are made to agree with the world before any run starts.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { startedByOlderVersion } from '../../backends/docker/runner';
import { errorMessage } from '../../describe';
import type { RunStatus } from '../../runs/events';
import type { Records } from '../../store/records';
import { containerOf } from './docker-containers';
import { reattachesToJob } from './execution';
import type { RunLog } from './run-log';

const ACTIVE_STATUSES: readonly RunStatus[] = ['building', 'running'];

export interface Recovered {
  /** Docker runs whose container is still there: re-attached when the queue reaches them. */
  reattach: Map<string, Docker.Container>;
  /** Runs to queue, in order: the re-attached ones first, then those queued, oldest first. */
  queue: string[];
}

/**
 * A Docker run whose container is still there is re-attached: its steps went on without us, and
 * it goes on from where they are (a finished container has its outputs collected). A run that
 * was still preparing (its image, its unpacked files) starts again. Any other run that was
 * executing cannot be recovered (the sandbox's processes stop with the server): it is marked
 * interrupted.
 */
export async function recoverRuns(options: {
  records: Records;
  log: RunLog;
  docker: Docker;
  stateDir: string;
}): Promise<Recovered> {
  const { records, log, docker } = options;
  const reattach = new Map<string, Docker.Container>();
  // Slurm runs whose job was submitted: the job went on without us (`execution.ts` re-attaches).
  const jobs: string[] = [];
  for (const run of records.listRunsInStatuses(ACTIVE_STATUSES)) {
    if (reattachesToJob(run)) {
      jobs.push(run.id);
      continue;
    }
    const container =
      run.backend === 'docker' ? await containerOf(docker, run.id) : undefined;
    if (container) {
      if (await startedByOlderVersion(container).catch(() => false)) {
        // It writes into a host folder removed below: stopped first; ends as interrupted.
        await container.kill().catch(() => undefined);
      }
      reattach.set(run.id, container);
    } else if (run.status === 'building') {
      records.updateStatus(run.id, 'queued');
      await log.append(run.id, {
        type: 'status',
        time: Date.now(),
        status: 'queued',
        detail: 'The server restarted while this run was being prepared.'
      });
    } else {
      await log.finish(
        run.id,
        {
          status: 'interrupted',
          reason:
            run.backend === 'docker'
              ? 'The server stopped while this run was executing, and its container is gone. Its log up to then is kept.'
              : 'The server stopped while this run was executing in the sandbox, whose processes stop with it. Its log up to then is kept.'
        },
        true
      );
    }
  }
  await removeOldStepFolders(options.stateDir);
  return {
    reattach,
    queue: [
      ...reattach.keys(),
      ...jobs,
      ...records.listRunsInStatuses(['queued']).map(run => run.id)
    ]
  };
}

/**
 * The host folder where an earlier version of the server had Docker runs write their steps'
 * logs and exit codes (this one keeps them inside the container). Removed at start, once the
 * containers that could write in it are stopped: without following links (`rm` unlinks a link
 * instead of entering it), and never stopping the start when a file will not go.
 */
async function removeOldStepFolders(stateDir: string): Promise<void> {
  const folder = join(stateDir, 'docker-steps');
  try {
    await rm(folder, { recursive: true, force: true });
  } catch (error) {
    console.error(
      `reproserver: cannot remove ${folder}, left by an earlier version (${errorMessage(error)}); remove it by hand.`
    );
  }
}
