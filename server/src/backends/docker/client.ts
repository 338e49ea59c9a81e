import Docker from 'dockerode';

/**
 * A Docker Engine API client on a unix socket. One factory so that the image builder and the run
 * backend talk to the engine the same way (no timeouts here: ping first with `pingDocker`, since a
 * build or a run may legitimately take hours).
 */
export function dockerClient(socketPath: string): Docker {
  return new Docker({ socketPath });
}
