import { ReproServer } from '../api/server';
import { resolveToken } from '../api/token';
import { loadConfig } from '../config';
import { preparePrivateStateDir } from '../store/private-state';
import { lastValues, parseArgs } from './args';

export const SERVE_USAGE = `reproserver serve [--host 127.0.0.1] [--port N] [--workspace DIR] [--state DIR]
                  [--token-from F] [--token-file F] [--docker-socket PATH] [--registry HOST:PORT]
                  [--storage fs|s3] [--max-concurrent-runs N] [--max-upload-mib N]
                  [--runs-per-minute N] [--read-timeout-seconds N] [--read-memory-mib N]
                  [--read-processes N] [--read-stall-seconds N] [--weak-isolation ask|refuse]
--token-from F: read the token from the private file F (mode 0600), then delete F.
Environment: REPROSERVER_HOST, REPROSERVER_PORT, REPROSERVER_WORKSPACE, REPROSERVER_STATE_DIR,
             REPROSERVER_TOKEN_FROM, REPROSERVER_TOKEN (removed from the environment at start),
             REPROSERVER_TOKEN_FILE, REPROSERVER_WEAK_ISOLATION, DOCKER_SOCKET or DOCKER_HOST, REGISTRY,
             REPROSERVER_BLOB_STORE and REPROSERVER_S3_{BUCKET,PREFIX,ENDPOINT,REGION,FORCE_PATH_STYLE},
             REPROSERVER_MAX_CONCURRENT_RUNS, REPROSERVER_MAX_UPLOAD_MIB, REPROSERVER_RUNS_PER_MINUTE,
             REPROSERVER_READ_TIMEOUT_SECONDS, REPROSERVER_READ_MEMORY_MIB, REPROSERVER_READ_PROCESSES,
             REPROSERVER_READ_STALL_SECONDS, REPROSERVER_READ_LIMITS, REPROSERVER_SANDBOX,
             REPROSERVER_SANDBOX_UID, REPROSERVER_SANDBOX_RUNS_DIR, REPROSERVER_OPEN_FILES.`;

/** `reproserver serve`: runs the companion server until SIGTERM or SIGINT. */
export async function serveCommand(args: string[]): Promise<number> {
  const { flags } = parseArgs(args);
  const config = loadConfig(lastValues(flags));
  // Private before the token file or anything else is written into it.
  preparePrivateStateDir(config.stateDir);
  const { token, file } = resolveToken(config);
  // Signals are caught before anything is announced: a supervisor may stop us as soon as it
  // reads the address. A second signal while stopping is ignored rather than killing mid-close.
  let stopping: string | undefined;
  let wake: (() => void) | undefined;
  const onSignal = (signal: string): void => {
    if (stopping === undefined) {
      stopping = signal;
      wake?.();
    }
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  const server = await ReproServer.create({ ...config, token });
  const address = await server.listen();
  console.log(
    `reproserver listening on http://${address.address}:${address.port}/`
  );
  if (file) {
    console.log(`token written to ${file}`);
  }
  if (stopping === undefined) {
    await new Promise<void>(resolve => (wake = resolve));
  }
  console.log(`reproserver: ${stopping}, finishing in-flight requests`);
  await server.close();
  // Runs still executing are not waited for: the next start reconciles them. Exit now rather
  // than when their streams happen to end.
  process.exit(0);
  return 0;
}
