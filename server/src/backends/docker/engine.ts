/**
 * Which engine answers the Docker API at a socket: Docker Engine, or Podman through its
 * Docker-compatible API (`podman system service`, many university machines have it and no
 * Docker). Both are driven the same way; the few places where Podman differs branch on
 * `EngineInfo.name` (`podman-quirks.ts`). Podman names itself in `GET /version`: a component
 * named "Podman Engine". Its compatible `GET /info` claims cgroup limits whatever holds, so for
 * Podman the facts come from its own `GET /libpod/info` (rootless, cgroup version, controllers).
 */
import { request } from 'node:http';
import type Docker from 'dockerode';

export interface EngineInfo {
  name: 'docker' | 'podman';
  /** The engine's own version, e.g. "20.10.24" or "4.3.1". */
  version: string;
  /** Whether it runs as an unprivileged user (rootless Podman or rootless Docker). */
  rootless: boolean;
  /**
   * Whether containers get a cgroup that enforces memory, CPU and process limits. Rootless
   * Podman on cgroup v1, or without the controllers delegated to its user, ignores them.
   */
  cgroupLimits: boolean;
  /** The engine's architecture as Go names it ("amd64", "arm64"); "" when it does not say. */
  architecture: string;
}

interface VersionResponse {
  Version?: unknown;
  Arch?: unknown;
  Components?: { Name?: unknown; Version?: unknown }[];
}

export interface PodmanInfo {
  host?: {
    security?: { rootless?: unknown };
    cgroupVersion?: unknown;
    cgroupControllers?: unknown;
  };
}

interface DockerInfo {
  SecurityOptions?: unknown;
}

/** What answers at `socketPath`, asked within `timeoutMs` per request. */
export async function identifyEngine(
  socketPath: string,
  timeoutMs = 2000
): Promise<EngineInfo> {
  const version = (await getJson(
    socketPath,
    '/version',
    timeoutMs
  )) as VersionResponse;
  const podman = version.Components?.find(c => c.Name === 'Podman Engine');
  if (podman) {
    const podmanVersion = String(podman.Version ?? version.Version ?? '');
    // Podman's own API answers under a version prefix only: its own version is one it serves.
    const prefix = /^\d+\.\d+\.\d+$/.test(podmanVersion)
      ? `/v${podmanVersion}`
      : '/v4.0.0';
    const info = (await getJson(
      socketPath,
      `${prefix}/libpod/info`,
      timeoutMs
    )) as PodmanInfo;
    return podmanEngine(podmanVersion, info, architectureOf(version));
  }
  const info = (await getJson(socketPath, '/info', timeoutMs)) as DockerInfo;
  const options = Array.isArray(info.SecurityOptions)
    ? info.SecurityOptions
    : [];
  return {
    name: 'docker',
    version: String(version.Version ?? ''),
    rootless: options.includes('name=rootless'),
    // Docker's own /info tells the truth; its rootless mode needs cgroup v2 delegation for limits.
    cgroupLimits: true,
    architecture: architectureOf(version)
  };
}

function architectureOf(version: VersionResponse): string {
  return typeof version.Arch === 'string' ? version.Arch.slice(0, 64) : '';
}

/** The facts of a Podman engine from its `GET /libpod/info` (pure, for tests). */
export function podmanEngine(
  version: string,
  info: PodmanInfo,
  architecture = ''
): EngineInfo {
  const rootless = info.host?.security?.rootless === true;
  const controllers = Array.isArray(info.host?.cgroupControllers)
    ? (info.host.cgroupControllers as unknown[])
    : [];
  // Rootful Podman owns the cgroup tree. Rootless Podman can only use what is delegated to its
  // user, which cgroup v1 never does (Podman then drops the limits with a warning).
  const cgroupLimits =
    !rootless ||
    (info.host?.cgroupVersion === 'v2' &&
      ['memory', 'pids', 'cpu'].every(c => controllers.includes(c)));
  return { name: 'podman', version, rootless, cgroupLimits, architecture };
}

/** "Podman 4.3.1 (rootless)", "Docker Engine 20.10.24": what the panel and the CLI show. */
export function describeEngine(engine: EngineInfo): string {
  const name = engine.name === 'podman' ? 'Podman' : 'Docker Engine';
  return `${name} ${engine.version}${engine.rootless ? ' (rootless)' : ''}`.replace(
    /\s+/g,
    ' '
  );
}

/** The engine behind each socket, once identified (or being identified). */
const known = new Map<string, Promise<EngineInfo>>();

/**
 * The engine behind a client's socket, asked once per socket (a failure is asked again next
 * time). Docker's `GET /version` runs the engine's `runc` and `docker-init` to report their
 * versions: asking it for every run or build cost the engine two processes each time.
 */
export function engineOf(docker: Docker): Promise<EngineInfo> {
  const socketPath = (docker.modem as { socketPath?: unknown }).socketPath;
  if (typeof socketPath !== 'string') {
    return Promise.reject(new Error('the engine is not on a unix socket'));
  }
  let engine = known.get(socketPath);
  if (!engine) {
    engine = identifyEngine(socketPath, 10_000);
    const asked = engine;
    asked.catch(() => forgetEngine(socketPath, asked));
    known.set(socketPath, engine);
  }
  return engine;
}

/**
 * Forgets what answers at `socketPath` (only `which`, when given): the next `engineOf` asks
 * again. For callers that saw the daemon go away, since another engine may come in its place.
 */
export function forgetEngine(
  socketPath: string,
  which?: Promise<EngineInfo>
): void {
  if (which === undefined || known.get(socketPath) === which) {
    known.delete(socketPath);
  }
}

/** GET `path` on the engine's socket; rejects on a status other than 200 or on a timeout. */
function getJson(
  socketPath: string,
  path: string,
  timeoutMs: number
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method: 'GET', timeout: timeoutMs },
      res => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          // An engine's version or info is a few KiB; more is not an engine.
          size += chunk.length;
          if (size > 1024 * 1024) {
            req.destroy(new Error(`${path} answered more than 1 MiB`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) {
            reject(new Error(`${path} answered HTTP ${res.statusCode}`));
            return;
          }
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch {
            reject(new Error(`${path} did not answer JSON`));
          }
        });
        res.on('error', reject);
      }
    );
    req.on('timeout', () =>
      req.destroy(new Error(`${path} did not answer in ${timeoutMs} ms`))
    );
    req.on('error', reject);
    req.end();
  });
}
