/**
 * Copies a Docker run's outputs out of its container (running or stopped): the declared outputs,
 * then every other regular file the run created or changed, within the run's output budget. The
 * declared outputs that the last step's helper sent (`deliveries.ts`) are taken from its spool.
 */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import type Docker from 'dockerode';
import type { OutputKind, RunEvent } from '../../runs/events';
import type { OutputSink } from '../../runs/output-sink';
import type { RunPlan } from '../../runs/plan';
import { firstFileOfTar } from './archive';
import type { Delivered } from './deliveries';
import { HELPER_DIR } from './layout';
import { OutputCollector } from '../common/output-collector';

/** Paths Docker itself changes in every container; they are not the experiment's outputs. */
const ENGINE_PATHS = [
  '/etc/hostname',
  '/etc/hosts',
  '/etc/resolv.conf',
  // Docker's init (HostConfig.Init) is bind-mounted here, through a packed /sbin link or not.
  '/sbin/docker-init',
  '/usr/sbin/docker-init',
  '/dev',
  '/proc',
  '/sys'
];

/**
 * The owners of paths in the container, for engines whose archive API does not give them
 * (Podman gives every file the container's user): absent paths are left out.
 */
export type OwnersOf = (
  paths: string[]
) => Promise<Map<string, { uid: number; gid: number }>>;

/**
 * Copies the declared outputs, then every other file the run created or changed. With `ownersOf`
 * the files' owners come from it rather than from the archive's headers. Declared outputs the
 * last step's helper delivered (`delivered`, by index of `plan.outputs`) come from there, with
 * the owners it read; the others from the archive API.
 */
export async function collectOutputs(
  container: Docker.Container,
  plan: RunPlan,
  sink: OutputSink,
  onEvent: (event: RunEvent) => void,
  ownersOf?: OwnersOf,
  delivered: ReadonlyMap<number, Delivered> = new Map()
): Promise<void> {
  const outputs = new OutputCollector(plan, sink, onEvent);
  let owners: Map<string, { uid: number; gid: number }> | undefined;
  const copy = async (
    name: string,
    path: string,
    kind: OutputKind
  ): Promise<void> => {
    let archive: NodeJS.ReadableStream;
    try {
      archive = await container.getArchive({ path });
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) {
        outputs.notCreated(name, path);
        return;
      }
      throw error;
    }
    const result = await firstFileOfTar(archive, async (body, header) => {
      if (outputs.fits(name, path, header.size)) {
        const owner = owners?.get(path);
        await outputs.store(name, path, kind, body, () =>
          owner ? { ...header, ...owner } : header
        );
      } else {
        body.resume();
        await once(body, 'end');
      }
    });
    if (result === 'not-a-file') {
      outputs.notAFile(name, path, kind);
    }
  };

  owners = await ownersOf?.(
    plan.outputs.filter((_, i) => !delivered.has(i)).map(output => output.path)
  );
  for (const [i, output] of plan.outputs.entries()) {
    const came = delivered.get(i);
    if (came === undefined) {
      await copy(output.name, output.path, 'declared');
    } else if (came.state === 'absent') {
      outputs.notCreated(output.name, output.path);
    } else if (came.state === 'not-a-file') {
      outputs.notAFile(output.name, output.path, 'declared');
    } else if (outputs.fits(output.name, output.path, came.header.size)) {
      await outputs.store(
        output.name,
        output.path,
        'declared',
        createReadStream(came.spool),
        () => came.header
      );
    }
  }
  const changes = ((await container.changes()) ?? []) as {
    Path: string;
    Kind: number;
  }[];
  const paths = changes.filter(c => c.Kind !== 2).map(c => c.Path);
  // A path with changed paths below it is a directory: no need to ask the engine.
  const parents = new Set(paths.flatMap(ancestorsOf));
  const changed: string[] = [];
  for (const path of paths.sort()) {
    if (
      outputs.declaredPaths.has(path) ||
      parents.has(path) ||
      isEngineOrHelperPath(path)
    ) {
      continue;
    }
    if (await isRegularFile(container, path)) {
      changed.push(path);
    }
  }
  owners = await ownersOf?.(changed);
  for (const path of changed) {
    await copy(path, path, 'changed');
  }
}

function ancestorsOf(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts
    .slice(0, -1)
    .map((_, i) => '/' + parts.slice(0, i + 1).join('/'));
}

/**
 * Asks the engine for a path's type without transferring it (HEAD …/archive). The stat is a
 * base64 JSON header whose mode uses Go's bits: any of the type bits set means not a regular file.
 */
async function isRegularFile(
  container: Docker.Container,
  path: string
): Promise<boolean> {
  try {
    const info = (await container.infoArchive({ path })) as {
      headers?: Record<string, string>;
      resume?: () => void;
    };
    info.resume?.();
    const header = info.headers?.['x-docker-container-path-stat'];
    if (!header) {
      return true;
    }
    const stat = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as {
      mode: number;
    };
    const GO_TYPE_BITS = 0x8f280000; // dir, symlink, named pipe, socket, device, char device, irregular
    return (stat.mode & GO_TYPE_BITS) === 0;
  } catch {
    return false;
  }
}

function isEngineOrHelperPath(path: string): boolean {
  return [HELPER_DIR, ...ENGINE_PATHS].some(
    p => path === p || path.startsWith(p + '/')
  );
}
