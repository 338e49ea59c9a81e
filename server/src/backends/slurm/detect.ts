/**
 * Whether runs can go to Slurm from here: `sbatch` on PATH, and the configured cluster answering
 * (`sinfo` on the partition) within a few seconds; the shared folder is configured. Where it is,
 * the nodes are trusted to provide what docs/cluster.md lists (the same sandbox as this host,
 * the shared folder at the same path).
 * Configuration, from the environment: REPROSERVER_SLURM_SHARED (the shared folder),
 * REPROSERVER_SLURM_PARTITION (optional), and Slurm's own (SLURM_CONF…).
 */
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { errorMessage } from '../../describe';
import { slurm } from './commands';

export interface SlurmConfig {
  shared: string;
  partition?: string;
}

export interface SlurmStatus {
  available: boolean;
  detail: string;
  config?: SlurmConfig;
}

/** The configuration in the environment; undefined when no shared folder is configured. */
export function slurmConfig(
  env: Record<string, string | undefined> = process.env
): SlurmConfig | undefined {
  const shared = env.REPROSERVER_SLURM_SHARED;
  if (!shared || !shared.startsWith('/')) {
    return undefined;
  }
  const partition = env.REPROSERVER_SLURM_PARTITION;
  return {
    shared,
    partition:
      partition && /^[\w.-]{1,64}$/.test(partition) ? partition : undefined
  };
}

/** Whether a command is an executable file on PATH. */
async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (
      dir &&
      (await access(join(dir, command), constants.X_OK).then(
        () => true,
        () => false
      ))
    ) {
      return true;
    }
  }
  return false;
}

/** Asks the cluster (a few seconds at most): it is never chosen without asking. */
export async function detectSlurm(
  env: Record<string, string | undefined> = process.env
): Promise<SlurmStatus> {
  const config = slurmConfig(env);
  if (!config) {
    return {
      available: false,
      detail:
        'Slurm: no shared folder configured (set REPROSERVER_SLURM_SHARED to a folder the cluster’s nodes share with this host).'
    };
  }
  if (!(await onPath('sbatch'))) {
    return {
      available: false,
      detail: 'Slurm: sbatch is not on PATH (install Slurm’s client commands).'
    };
  }
  try {
    const states = await slurm(
      'sinfo',
      ['-h', '-o', '%T', ...(config.partition ? ['-p', config.partition] : [])],
      5000
    );
    const up = states
      .split('\n')
      .filter(s => /^(idle|mixed|allocated|completing)/.test(s.trim()));
    if (up.length === 0) {
      return {
        available: false,
        detail: `Slurm: no node of ${config.partition ? `partition ${config.partition}` : 'the cluster'} is up.`,
        config
      };
    }
    return {
      available: true,
      detail: `Slurm: ${up.length} node${up.length > 1 ? 's' : ''} up${config.partition ? ` in partition ${config.partition}` : ''}; shared folder ${config.shared}; each run a batch job running the sandbox.`,
      config
    };
  } catch (error) {
    return {
      available: false,
      detail: `Slurm: the cluster does not answer (${errorMessage(error)}).`,
      config
    };
  }
}
