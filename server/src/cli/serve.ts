import { ReproServer } from '../api/server';
import { resolveToken } from '../api/token';
import { loadConfig } from '../config';
import { preparePrivateStateDir } from '../store/private-state';
import { UsersFileError } from '../users/file';
import { UserRegistry } from '../users/registry';
import { argsOrExit, lastValues, usageMessage, UsageError } from './args';
import { SERVE_SPEC, SERVE_USAGE } from './usage';

export { SERVE_USAGE };

/** `reproserver serve`: runs the companion server until SIGTERM or SIGINT. */
export async function serveCommand(args: string[]): Promise<number> {
  const parsed = argsOrExit(SERVE_SPEC, args);
  if (typeof parsed === 'number') {
    return parsed;
  }
  if (parsed.positionals.length > 0) {
    process.stderr.write(
      usageMessage(
        SERVE_SPEC,
        new UsageError(`unexpected argument "${parsed.positionals[0]}".`)
      )
    );
    return 2;
  }
  const flags = parsed.flags;
  const config = loadConfig(lastValues(flags));
  // A shared server's users, before anything else: a bad file stops the start with its sentence.
  let users: UserRegistry | undefined;
  if (config.usersFile !== undefined) {
    try {
      users = UserRegistry.load(config.usersFile);
    } catch (error) {
      if (error instanceof UsersFileError) {
        process.stderr.write(`reproserver: ${error.message}\n`);
        return 2;
      }
      throw error;
    }
  }
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
  if (users) {
    // Re-read when it changes, or when asked (SIGHUP); a bad edit keeps the users known before.
    const report = (error: UsersFileError | undefined): void =>
      console.log(
        error
          ? `reproserver: ${error.message} The users known before are kept.`
          : `reproserver: users file read again: ${users!.size} users.`
      );
    users.watch(report);
    process.on('SIGHUP', () => report(users!.reload()));
  }

  const server = await ReproServer.create({ ...config, token }, users);
  const address = await server.listen();
  console.log(
    `reproserver listening on http://${address.address}:${address.port}/`
  );
  if (users) {
    console.log(
      `serving ${users.size} users of ${users.file} (${config.userMaxRunning} runs at once, ${config.userMaxQueued} not ended, ${config.userRunsPerMinute} starts a minute, each)`
    );
  } else if (file) {
    console.log(`token written to ${file}`);
  }
  if (stopping === undefined) {
    await new Promise<void>(resolve => (wake = resolve));
  }
  console.log(`reproserver: ${stopping}, finishing in-flight requests`);
  users?.close();
  await server.close();
  // Runs still executing are not waited for: the next start reconciles them. Exit now rather
  // than when their streams happen to end.
  process.exit(0);
  return 0;
}
