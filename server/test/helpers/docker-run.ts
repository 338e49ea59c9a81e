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

const images = new Map<string, Promise<string>>();

/** The package's image, built once per test file through the real builder and registry. */
export function imageOf(rpz: string): Promise<string> {
  let image = images.get(rpz);
  if (!image) {
    image = buildImage(rpz, {
      dockerSocket: dockerSocket(),
      registry: process.env.REGISTRY
    }).then(result => result.image);
    images.set(rpz, image);
  }
  return image;
}

/** The containers the tests' runs left behind: none, when every run removed its own. */
export async function leftContainers(): Promise<string[]> {
  const docker = new Docker({ socketPath: dockerSocket() });
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
  options: RunOptions & { docker?: Docker } = {}
): Promise<FinishedRun> {
  const image = await imageOf(rpz);
  return recordRun(rpz, edits, options.onEvent, common =>
    runOnDocker({
      ...common,
      docker: options.docker ?? new Docker({ socketPath: dockerSocket() }),
      image,
      helperPath: helperPath(),
      signal: options.signal,
      labels: { 'org.reproserver.test': 'docker-run' }
    })
  );
}
