import Docker from 'dockerode';
import { helperPath } from '../../src/backends/docker/helper-path';
import { runOnDocker } from '../../src/backends/docker/runner';
import { buildImage } from '../../src/build';
import type { RunEdits } from '../../src/runs/edits';
import { recordRun, type FinishedRun, type RunOptions } from './run-recorder';

export { outputsOf, type FinishedRun } from './run-recorder';

export function dockerSocket(): string {
  const socket = process.env.DOCKER_SOCKET;
  if (!socket) {
    throw new Error(
      'DOCKER_SOCKET is not set: run these tests through ./reproserver-lab test'
    );
  }
  return socket;
}

/**
 * Rootless Podman's Docker-compatible API (`scripts/services/podman.sh`), which the same Docker
 * backend drives: the engine-parametrized tests run on it as well.
 */
export function podmanSocket(): string {
  const socket = process.env.PODMAN_SOCKET;
  if (!socket) {
    throw new Error(
      `PODMAN_SOCKET is not set${process.env.PODMAN_UNAVAILABLE ? ` (${process.env.PODMAN_UNAVAILABLE})` : ''}: run these tests through ./reproserver-lab test`
    );
  }
  return socket;
}

const images = new Map<string, Promise<string>>();

/**
 * The package's image, built once per test file and engine through the real builder and
 * registry (Podman pulls what Docker pushed, when it did; `builder.test.ts` builds and pushes on
 * Podman itself).
 */
export function imageOf(rpz: string, socket = dockerSocket()): Promise<string> {
  const key = `${socket}\0${rpz}`;
  let image = images.get(key);
  if (!image) {
    image = buildImage(rpz, {
      dockerSocket: socket,
      registry: process.env.REGISTRY
    }).then(result => result.image);
    images.set(key, image);
  }
  return image;
}

/** The containers the tests' runs left behind: none, when every run removed its own. */
export async function leftContainers(
  socket = dockerSocket()
): Promise<string[]> {
  const docker = new Docker({ socketPath: socket });
  const left = await docker.listContainers({
    all: true,
    filters: { label: ['org.reproserver.test=docker-run'] }
  });
  return left.map(
    container => `container ${container.Id} (${container.State})`
  );
}

/** Plans and runs a package on the real Docker Engine, collecting every event. */
export async function runPackage(
  rpz: string,
  edits: RunEdits = {},
  options: RunOptions & { docker?: Docker; socket?: string } = {}
): Promise<FinishedRun> {
  const socket = options.socket ?? dockerSocket();
  const image = await imageOf(rpz, socket);
  return recordRun(rpz, edits, options.onEvent, common =>
    runOnDocker({
      ...common,
      docker: options.docker ?? new Docker({ socketPath: socket }),
      image,
      helperPath: helperPath(),
      signal: options.signal,
      labels: { 'org.reproserver.test': 'docker-run' }
    })
  );
}
