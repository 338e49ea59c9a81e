import { ReproServer } from '../api/server';
import { resolveToken } from '../api/token';
import { loadConfig } from '../config';
import { lastValues, parseArgs } from './args';

export const SERVE_USAGE = `reproserver serve [--host 127.0.0.1] [--port N] [--workspace DIR] [--state DIR]
                  [--token-file F] [--docker-socket PATH] [--registry HOST:PORT]
Environment: REPROSERVER_HOST, REPROSERVER_PORT, REPROSERVER_WORKSPACE, REPROSERVER_STATE_DIR,
             REPROSERVER_TOKEN, REPROSERVER_TOKEN_FILE, DOCKER_SOCKET or DOCKER_HOST, REGISTRY.`;

/** `reproserver serve`: runs the companion server until SIGTERM or SIGINT. */
export async function serveCommand(args: string[]): Promise<number> {
  const { flags } = parseArgs(args);
  const config = loadConfig(lastValues(flags));
  const { token, file } = resolveToken(config);
  const server = new ReproServer({ ...config, token });
  const address = await server.listen();
  console.log(
    `reproserver listening on http://${address.address}:${address.port}/`
  );
  if (file) {
    console.log(`token written to ${file}`);
  }
  await new Promise<void>(resolve => {
    const stop = (signal: string): void => {
      console.log(`reproserver: ${signal}, finishing in-flight requests`);
      void server.close().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}
