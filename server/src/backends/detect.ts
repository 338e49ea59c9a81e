import type { BackendStatus } from '../api/wire';
import type { ServerConfig } from '../config';
import { pingDocker } from './docker/ping';

/** Which backends can run experiments on this host right now, and why not. */
export async function detectBackends(
  config: ServerConfig
): Promise<BackendStatus[]> {
  const docker = await pingDocker(config.dockerSocket);
  return [
    {
      name: 'docker',
      available: docker.ok,
      detail: docker.ok
        ? `Docker Engine at ${config.dockerSocket}`
        : `Docker: ${docker.reason}${config.dockerUnavailable ? ` (setup said: ${config.dockerUnavailable})` : ''}.`
    }
  ];
}
