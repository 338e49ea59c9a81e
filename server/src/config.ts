import { availableParallelism, homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { WeakIsolationPolicy } from './backends/exposure';
import { READ_LIMITS_VARIABLE, parseReadLimits } from './rpz/limits';
// The defaults alone: this module is loaded by every command, the reader pool only by some.
import { READER_DEFAULTS } from './rpz/worker/defaults';

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
  /** Where the token is handed over: a private file, read once at start and deleted. */
  tokenFrom?: string;
  tokenFile?: string;
  /** Unix socket of the Docker Engine. */
  dockerSocket: string;
  /** Why Docker is unavailable, when the setup already found out. */
  dockerUnavailable?: string;
  /** `host:port` of the registry that caches images, if any. */
  registry?: string;
  /** Largest package or input upload, bytes. */
  maxUploadBytes: number;
  /** Runs executing at once; the others wait in the queue. */
  maxConcurrentRuns: number;
  /** Runs one package may start per minute. */
  runsPerPackagePerMinute: number;
  /** Runs not ended (queued, building, running) the server takes at most. */
  maxQueuedRuns: number;
  /**
   * Folders of sandbox trees an administrator prepared (`reproserver prepare DIR --trees F`),
   * mounted read-only for every user: `REPROSERVER_SHARED_TREES`, absolute paths separated by `:`.
   */
  sharedTrees: string[];
  /** `fs` (default) or `s3`; see `blobStoreOptionsFromEnv` for the S3 settings. */
  storage: 'fs' | 's3';
  /** Deadline of one package read in a reader process, seconds (plus 1 s per 16 MiB). */
  readTimeoutSeconds: number;
  /** Memory cap of a reader process, MiB. */
  readMemoryMib: number;
  /** Reader processes at most. */
  readProcesses: number;
  /** Seconds a reader's data job (image tar, extraction) may make no progress before it is stopped. */
  readStallSeconds: number;
  /** Runs on a backend that isolates less than files + network: asked for, or refused. */
  weakIsolation: WeakIsolationPolicy;
  /**
   * A server shared by several users: the users file (`users/file.ts`), whose tokens replace the
   * server's one token, and the per-user limits below. Undefined: one user, as before.
   */
  usersFile?: string;
  /** Shared server: runs (or sweeps, each one) one user may start per minute. */
  userRunsPerMinute: number;
  /** Shared server: runs of one user executing at once; the others wait while others' go. */
  userMaxRunning: number;
  /** Shared server: runs not ended (queued, building, running) one user may have. */
  userMaxQueued: number;
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
  const positive = (
    flag: string,
    variable: string,
    fallback: number
  ): number => {
    const text = pick(flag, variable);
    if (text === undefined) {
      return fallback;
    }
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(
        `Invalid --${flag} "${text}": give a whole number of at least 1.`
      );
    }
    return value;
  };
  const storage = pick('storage', 'REPROSERVER_BLOB_STORE') ?? 'fs';
  if (storage !== 'fs' && storage !== 's3') {
    throw new Error(`Invalid --storage "${storage}": use fs or s3.`);
  }
  // Checked here so that a mistake stops the start with a sentence; readers apply it themselves.
  parseReadLimits(env[READ_LIMITS_VARIABLE] ?? '');
  const host = pick('host', 'REPROSERVER_HOST') ?? '127.0.0.1';
  const usersFile = pick('users-file', 'REPROSERVER_USERS_FILE') || undefined;
  return {
    weakIsolation: weakIsolationPolicy(
      pick('weak-isolation', 'REPROSERVER_WEAK_ISOLATION'),
      host,
      usersFile !== undefined
    ),
    maxUploadBytes:
      positive('max-upload-mib', 'REPROSERVER_MAX_UPLOAD_MIB', 10 * 1024) *
      1024 *
      1024,
    maxConcurrentRuns: positive(
      'max-concurrent-runs',
      'REPROSERVER_MAX_CONCURRENT_RUNS',
      availableParallelism()
    ),
    runsPerPackagePerMinute: positive(
      'runs-per-minute',
      'REPROSERVER_RUNS_PER_MINUTE',
      30
    ),
    maxQueuedRuns: positive(
      'max-queued-runs',
      'REPROSERVER_MAX_QUEUED_RUNS',
      10_000
    ),
    usersFile,
    userRunsPerMinute: positive(
      'user-runs-per-minute',
      'REPROSERVER_USER_RUNS_PER_MINUTE',
      30
    ),
    userMaxRunning: positive(
      'user-max-running',
      'REPROSERVER_USER_MAX_RUNNING',
      2
    ),
    userMaxQueued: positive(
      'user-max-queued',
      'REPROSERVER_USER_MAX_QUEUED',
      1000
    ),
    sharedTrees: sharedTreeFolders(
      pick('shared-trees', 'REPROSERVER_SHARED_TREES')
    ),
    storage,
    readTimeoutSeconds: positive(
      'read-timeout-seconds',
      'REPROSERVER_READ_TIMEOUT_SECONDS',
      READER_DEFAULTS.timeoutSeconds
    ),
    readMemoryMib: positive(
      'read-memory-mib',
      'REPROSERVER_READ_MEMORY_MIB',
      READER_DEFAULTS.memoryMib
    ),
    readProcesses: positive(
      'read-processes',
      'REPROSERVER_READ_PROCESSES',
      READER_DEFAULTS.processes
    ),
    readStallSeconds: positive(
      'read-stall-seconds',
      'REPROSERVER_READ_STALL_SECONDS',
      READER_DEFAULTS.stallSeconds
    ),
    host,
    port,
    workspace: resolve(
      pick('workspace', 'REPROSERVER_WORKSPACE') ?? process.cwd()
    ),
    stateDir,
    token: env.REPROSERVER_TOKEN || undefined,
    tokenFrom: pick('token-from', 'REPROSERVER_TOKEN_FROM'),
    tokenFile: pick('token-file', 'REPROSERVER_TOKEN_FILE'),
    dockerSocket:
      pick('docker-socket', 'DOCKER_SOCKET') ??
      dockerHostSocket(env.DOCKER_HOST) ??
      '/var/run/docker.sock',
    dockerUnavailable: env.DOCKER_UNAVAILABLE || undefined,
    registry: pick('registry', 'REGISTRY') || undefined
  };
}

/**
 * `ask` or `refuse`; by default `refuse` for a server listening beyond this machine's loopback or
 * shared by several users (`shared`: a users file), since one user's consent cannot cover the
 * others' accounts and runs (an unconfined experiment runs as the server, beside everyone's
 * records), `ask` for one only the user's own JupyterLab reaches.
 */
function weakIsolationPolicy(
  chosen: string | undefined,
  host: string,
  shared = false
): WeakIsolationPolicy {
  if (chosen === undefined || chosen === '') {
    return isLoopback(host) && !shared ? 'ask' : 'refuse';
  }
  if (chosen !== 'ask' && chosen !== 'refuse') {
    throw new Error(`Invalid --weak-isolation "${chosen}": use ask or refuse.`);
  }
  return chosen;
}

function isLoopback(host: string): boolean {
  return (
    host === 'localhost' ||
    host === '::1' ||
    host === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

function dockerHostSocket(dockerHost: string | undefined): string | undefined {
  return dockerHost?.startsWith('unix://')
    ? dockerHost.slice('unix://'.length)
    : undefined;
}

/** `REPROSERVER_SHARED_TREES`: absolute folders separated by `:` (empty parts are ignored). */
function sharedTreeFolders(text: string | undefined): string[] {
  const folders = (text ?? '').split(':').filter(part => part !== '');
  const relative = folders.find(folder => !isAbsolute(folder));
  if (relative !== undefined) {
    throw new Error(
      `Invalid shared trees folder "${relative}": give absolute paths separated by ":".`
    );
  }
  return folders;
}
