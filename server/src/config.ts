import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Everything the server needs to know about where it runs; built once at start. */
export interface ServerConfig {
  host: string;
  port: number;
  /** Root of the user's files; no package or output path may leave it. */
  workspace: string;
  /** Records, blobs, logs and the token file live here. */
  stateDir: string;
  /** The access token; every request must present it. */
  token?: string;
  tokenFile?: string;
  /** Unix socket of the Docker Engine. */
  dockerSocket: string;
  /** Why Docker is unavailable, when the setup already found out. */
  dockerUnavailable?: string;
  /** `host:port` of the registry that caches images, if any. */
  registry?: string;
}

type Env = Record<string, string | undefined>;

/** Flags win over environment variables, which win over defaults. */
export function loadConfig(
  flags: Record<string, string | undefined>,
  env: Env = process.env
): ServerConfig {
  const pick = (flag: string, variable: string): string | undefined =>
    flags[flag] ?? env[variable] ?? undefined;

  const portText = pick('port', 'REPROSERVER_PORT') ?? '8765';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(
      `Invalid port "${portText}": give a number from 0 to 65535.`
    );
  }
  const stateDir = resolve(
    pick('state', 'REPROSERVER_STATE_DIR') ??
      join(
        env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'),
        'reproserver'
      )
  );
  return {
    host: pick('host', 'REPROSERVER_HOST') ?? '127.0.0.1',
    port,
    workspace: resolve(
      pick('workspace', 'REPROSERVER_WORKSPACE') ?? process.cwd()
    ),
    stateDir,
    token: env.REPROSERVER_TOKEN || undefined,
    tokenFile: pick('token-file', 'REPROSERVER_TOKEN_FILE'),
    dockerSocket:
      pick('docker-socket', 'DOCKER_SOCKET') ??
      dockerHostSocket(env.DOCKER_HOST) ??
      '/var/run/docker.sock',
    dockerUnavailable: env.DOCKER_UNAVAILABLE || undefined,
    registry: pick('registry', 'REGISTRY') || undefined
  };
}

function dockerHostSocket(dockerHost: string | undefined): string | undefined {
  return dockerHost?.startsWith('unix://')
    ? dockerHost.slice('unix://'.length)
    : undefined;
}
