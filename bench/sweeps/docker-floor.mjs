/**
 * The floor under a Docker sweep: what the Docker Engine itself takes for the container lifecycle
 * one run of a package needs, with no server of ours in the way. For each variant: create a
 * container from the package's image (the runner's limits, no network, the helper bound in
 * read-only), start its idle main process, exec the step through `rpz-exec run` with its recorded
 * user, directory, environment and argv, copy its output out through the archive API, remove the
 * container. Measured one at a time and `concurrency` at a time, so that the sweep benchmark can
 * say how much of its ratio the engine alone already has on this machine.
 */
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'server', 'package.json'));
const Docker = require('dockerode');
const HELPER_IN_CONTAINER = '/.rpz-exec';

/**
 * A function that runs one variant (the last argument of step 0 set to `value`) on the bare
 * engine and resolves when its container is gone. `model` is the package model of the API.
 */
export function bareDockerRun({ socket, image, model }) {
  const docker = new Docker({ socketPath: socket });
  const helper = join(root, 'server', 'dist', 'helpers', 'rpz-exec');
  const step = model.runs[0];
  const output = model.files.find(f => f.writtenBy.includes(0));
  const environ = Object.entries(step.environ).map(([k, v]) => `${k}=${v}`);
  return async value => {
    const container = await docker.createContainer({
      Image: image,
      Cmd: [HELPER_IN_CONTAINER, '--idle'],
      NetworkDisabled: true,
      HostConfig: {
        NetworkMode: 'none',
        Init: true,
        Memory: 1024 ** 3,
        MemorySwap: 1024 ** 3,
        PidsLimit: 512,
        SecurityOpt: ['no-new-privileges'],
        Binds: [`${helper}:${HELPER_IN_CONTAINER}:ro`],
        LogConfig: { Type: 'none', Config: {} }
      }
    });
    try {
      await container.start();
      const argv = [...step.argv.slice(0, -1), String(value)];
      const exec = await container.exec({
        Cmd: [
          HELPER_IN_CONTAINER,
          'run',
          step.binary ?? '-',
          String(environ.length),
          ...environ,
          '--',
          ...argv
        ],
        User: `${step.uid}:${step.gid}`,
        WorkingDir: step.workingdir,
        AttachStdout: true,
        AttachStderr: true
      });
      const stream = await exec.start({});
      await drain(stream);
      const { ExitCode } = await exec.inspect();
      if (ExitCode !== 0) {
        throw new Error(`bare Docker run: the step exited with ${ExitCode}`);
      }
      if (output) {
        await drain(await container.getArchive({ path: output.path }));
      }
    } finally {
      await container.remove({ force: true, v: true });
    }
  };
}

function drain(stream) {
  return new Promise((done, fail) => {
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', fail);
    stream.resume();
  });
}

/** Runs `count` variants (values 1…count), `concurrency` at a time; resolves with the ms taken. */
export async function bareDockerSweep(runOne, count, concurrency) {
  const started = performance.now();
  let next = 1;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next <= count) {
        await runOne(next++);
      }
    })
  );
  return performance.now() - started;
}
