import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { helperPath } from '../../src/backends/docker/helper-path';
import {
  runOnDocker,
  type DockerRunResult
} from '../../src/backends/docker/runner';
import { buildImage } from '../../src/build';
import { readPackage } from '../../src/rpz';
import type { PackageModel } from '../../src/rpz/model';
import type { RunEdits } from '../../src/runs/edits';
import type { RunEvent } from '../../src/runs/events';
import { DirectorySink } from '../../src/runs/output-sink';
import { planRun } from '../../src/runs/plan';

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

export interface FinishedRun {
  result: DockerRunResult;
  events: RunEvent[];
  outDir: string;
  stdout: string;
  stderr: string;
  model: PackageModel;
}

/** Plans and runs a package on the real Docker Engine, collecting every event. */
export async function runPackage(
  rpz: string,
  edits: RunEdits = {},
  options: {
    signal?: AbortSignal;
    onEvent?: (event: RunEvent) => void;
    docker?: Docker;
  } = {}
): Promise<FinishedRun> {
  const model = await readPackage(rpz);
  const plan = planRun(model, edits);
  const image = await imageOf(rpz);
  const outDir = mkdtempSync(join(tmpdir(), 'reproserver-out-'));
  const events: RunEvent[] = [];
  const result = await runOnDocker({
    docker: options.docker ?? new Docker({ socketPath: dockerSocket() }),
    image,
    plan,
    helperPath: helperPath(),
    sink: new DirectorySink(outDir),
    signal: options.signal,
    labels: { 'org.reproserver.test': 'docker-run' },
    onEvent: event => {
      events.push(event);
      options.onEvent?.(event);
    }
  });
  const text = (stream: 'stdout' | 'stderr'): string =>
    events
      .filter(
        (e): e is Extract<RunEvent, { type: 'log' }> =>
          e.type === 'log' && e.stream === stream
      )
      .map(e => e.text)
      .join('');
  return {
    result,
    events,
    outDir,
    stdout: text('stdout'),
    stderr: text('stderr'),
    model
  };
}

export function outputsOf(
  run: FinishedRun
): Extract<RunEvent, { type: 'output' }>[] {
  return run.events.filter(
    (e): e is Extract<RunEvent, { type: 'output' }> => e.type === 'output'
  );
}
