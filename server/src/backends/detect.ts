import type { BackendStatus } from '../api/wire';
import type { ServerConfig } from '../config';
import { pingDocker } from './docker/ping';
import { detectSandbox } from './sandbox/detect';

/**
 * Which backends can run experiments on this host right now, and why not. Docker is asked each
 * time (a daemon may come and go); the sandbox probe is done once per process.
 */
export async function detectBackends(
  config: ServerConfig
): Promise<BackendStatus[]> {
  const [docker, sandbox] = await Promise.all([
    pingDocker(config.dockerSocket),
    detectSandbox()
  ]);
  return [
    {
      name: 'docker',
      available: docker.ok,
      detail: docker.ok
        ? `Docker Engine at ${config.dockerSocket}`
        : `Docker: ${docker.reason}${config.dockerUnavailable ? ` (setup said: ${config.dockerUnavailable})` : ''}.`
    },
    { name: 'sandbox', available: sandbox.available, detail: sandbox.detail }
  ];
}
