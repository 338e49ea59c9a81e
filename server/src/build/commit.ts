/**
 * Approach C, used when the package needs a base image (files left out at pack time): a container
 * is created from the base image (never started), the root filesystem tar is unpacked into it at
 * `/` (`PUT /containers/{id}/archive`, which keeps numeric owners and replaces an existing
 * non-directory, the way reprounzip's rpztar does), and the container is committed as the image.
 */
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { followEngineStream } from './engine-stream';
import { labelChanges } from './import';

export interface CommitOptions {
  /** Base image reference or id. */
  baseImage: string;
  repository: string;
  tag: string;
  labels: Record<string, string>;
}

/** Unpacks `rootfs` over `baseImage` and commits the result; returns the new image's id. */
export async function commitRootfs(
  docker: Docker,
  rootfs: NodeJS.ReadableStream,
  options: CommitOptions
): Promise<string> {
  const base = await docker.getImage(options.baseImage).inspect();
  const baseCmd = base.Config?.Cmd ?? null;
  const baseEntrypoint = base.Config?.Entrypoint ?? null;
  // The engine refuses to create a container with no command; the placeholder is never run, and
  // is cleared from the image afterwards (commit cannot clear it: it merges the container's).
  const needsCmd =
    (baseCmd === null || baseCmd.length === 0) &&
    (baseEntrypoint === null || baseEntrypoint.length === 0);
  const container = await docker.createContainer({
    Image: options.baseImage,
    ...(needsCmd ? { Cmd: ['/reproserver-never-started'] } : {}),
    NetworkDisabled: true,
    HostConfig: { NetworkMode: 'none' }
  });
  try {
    await container.putArchive(rootfs, { path: '/' });
    const result = (await container.commit({
      ...(needsCmd ? {} : { repo: options.repository, tag: options.tag }),
      pause: false,
      changes: labelChanges(options.labels)
    })) as { Id?: string };
    if (result.Id === undefined) {
      throw new Error(
        'the engine did not return the id of the committed image'
      );
    }
    return needsCmd ? await clearCmd(docker, result.Id, options) : result.Id;
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}

/**
 * A config-only child of `imageId` with no command, tagged as asked: the classic builder writes a
 * `CMD []` step's config as given, adding no layer. (It also sets the default `PATH` in `Env` when
 * the base has none; harmless, since runs set their whole environment.) Returns the child's id.
 */
async function clearCmd(
  docker: Docker,
  imageId: string,
  options: CommitOptions
): Promise<string> {
  const context = tar.pack();
  context.entry({ name: 'Dockerfile' }, `FROM ${imageId}\nCMD []\n`);
  context.finalize();
  const reference = `${options.repository}:${options.tag}`;
  const stream = (await docker.buildImage(
    context as unknown as NodeJS.ReadableStream,
    { t: reference, rm: true, forcerm: true }
  )) as Readable;
  await followEngineStream(stream);
  return (await docker.getImage(reference).inspect()).Id;
}
