/**
 * Approach A, the one the builder uses for packages that bring all their files: `docker import` of
 * the generated root filesystem tar (`POST /images/create?fromSrc=-`). The engine unpacks the
 * stream straight into a new layer; the image has that one layer and nothing else.
 */
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { engineOf } from '../backends/docker/engine';
import { importTarget } from '../backends/docker/podman-quirks';
import { followEngineStream } from './engine-stream';

/** The Dockerfile-style instructions that put `labels` on an image (import and commit accept them). */
export function labelChanges(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(
    ([key, value]) => `LABEL ${key}=${JSON.stringify(value)}`
  );
}

export interface ImportOptions {
  /** Repository (with registry) and tag to give the new image. */
  repository: string;
  tag: string;
  labels: Record<string, string>;
}

/**
 * Imports the tar stream `rootfs` as a new image and returns its id (`sha256:…`). A failure of
 * `rootfs` aborts the upload, so the engine never creates an image from a partial stream.
 */
export async function importRootfs(
  docker: Docker,
  rootfs: NodeJS.ReadableStream,
  options: ImportOptions
): Promise<string> {
  const target = importTarget(
    await engineOf(docker),
    options.repository,
    options.tag
  );
  const response = await docker.importImage(rootfs, {
    ...target,
    changes: labelChanges(options.labels)
  });
  const messages = await followEngineStream(response as Readable);
  const id = messages
    .map(m => m.status)
    .reverse()
    .find(s => s !== undefined && /^sha256:[0-9a-f]{64}$/.test(s));
  if (id === undefined) {
    throw new Error('the engine did not return the id of the imported image');
  }
  return id;
}
