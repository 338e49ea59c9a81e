/**
 * Emulated identity changes for sandboxes that map one id (proot, and bubblewrap where no range of
 * ids can be mapped: `identity.ts`): each step runs under the helper's seccomp supervisor
 * (`rpz-exec emulate-ids`, `server/helpers/identity.c`), which answers the experiment's id, stat
 * and chown calls, so `setpriv --reuid=1000`, `su` or a daemon dropping root believe they
 * changed user, and files keep, as the experiment sees them, the owners it gave them.
 *
 * Here: the helper's command lines, the owners file given to each step (entries recorded with
 * another owner than the package's common one, and what earlier steps' ids own), and the report
 * each step's supervisor writes on descriptor `REPORT_FD` (what the run's ids own, by path), read
 * as hostile input: the experiment runs as the same user as its supervisor.
 */

/** The descriptor of a step's process where the supervisor writes its report (a pipe). */
export const REPORT_FD = 3;
/** Where the supervisor hands its socket to the sandbox (identity.h, IDS_SOCKET_FD). */
export const IDS_SOCKET_FD = 9;
/** Bytes of report read at most per step; the rest is dropped. */
export const MAX_REPORT_BYTES = 8 * 1024 * 1024;
/** Records of a report kept at most. */
export const MAX_REPORT_RECORDS = 65536;

/** An entry with its owner, by absolute path as the supervisor sees it. */
export interface OwnedPath {
  path: string;
  uid: number;
  gid: number;
}

/**
 * Whether steps of a sandbox run under the supervisor: proot always, bubblewrap with one id, where
 * the probe at start found that emulation works (`available`).
 */
export function emulatesIds(
  mechanism: 'bwrap' | 'proot',
  mappedRange: boolean,
  available: boolean,
  env: Record<string, string | undefined> = process.env
): boolean {
  if (env.REPROSERVER_SANDBOX_EMULATE_IDS === 'off' || !available) {
    return false; // off: measurements only (bench/sandbox), the bare sandbox
  }
  return mechanism === 'proot' || !mappedRange;
}

const isId = (id: number): boolean =>
  Number.isInteger(id) && id >= 0 && id < 0xffffffff;

/** The owners file: "UID GID PATH\0" records (paths absolute, without NUL). */
export function ownersFile(entries: OwnedPath[]): Buffer {
  return Buffer.from(
    entries
      .filter(
        e =>
          isId(e.uid) &&
          isId(e.gid) &&
          e.path.startsWith('/') &&
          !e.path.includes('\0')
      )
      .map(e => `${e.uid} ${e.gid} ${e.path}\0`)
      .join(''),
    'utf8'
  );
}

/**
 * A supervisor's report (same records as the owners file), strictly: bad records are skipped,
 * at most `MAX_REPORT_RECORDS`; a later record for a path wins.
 */
export function parseReport(data: Buffer): OwnedPath[] {
  const found = new Map<string, OwnedPath>();
  for (const record of data.toString('utf8').split('\0')) {
    const match = /^(\d{1,10}) (\d{1,10}) (\/.*)$/s.exec(record);
    if (!match) {
      continue;
    }
    const entry = {
      uid: Number(match[1]),
      gid: Number(match[2]),
      path: match[3]
    };
    if (!isId(entry.uid) || !isId(entry.gid)) {
      continue;
    }
    found.delete(entry.path);
    found.set(entry.path, entry);
    if (found.size >= MAX_REPORT_RECORDS) {
      break;
    }
  }
  return [...found.values()];
}

/** Paths under `prefix` ("" for none), made relative to it without the leading slash. */
export function relativeOwners(
  entries: OwnedPath[],
  prefix: string
): Map<string, [number, number]> {
  const owners = new Map<string, [number, number]>();
  for (const { path, uid, gid } of entries) {
    if (prefix === '' || path.startsWith(prefix + '/')) {
      const rel = path.slice(prefix.length + 1);
      if (rel !== '' && !rel.split('/').includes('..')) {
        owners.set(rel, [uid, gid]);
      }
    }
  }
  return owners;
}

/** What the supervisor is told about a step. */
export interface EmulatedStep {
  uid: number;
  gid: number;
  /** The package's common owner: of entries born before the run. */
  common: readonly [number, number];
  /** The run's start (ms since the epoch): entries born later are the run's. */
  sinceMs: number;
  /** The owners file, as the supervisor reaches it ("-": none). */
  owners: string;
}

/** `HELPER emulate-ids ... -- COMMAND...` */
export function supervisorArgv(
  helper: string,
  step: EmulatedStep,
  command: string[],
  /** Where the supervisor reports what the run's ids own ("-": nowhere, as a probe wants). */
  reportFd: string = String(REPORT_FD)
): string[] {
  return [
    helper,
    'emulate-ids',
    String(step.uid),
    String(step.gid),
    String(step.common[0]),
    String(step.common[1]),
    String(Math.floor(step.sinceMs)),
    step.owners,
    reportFd,
    '--',
    ...command
  ];
}

/**
 * The helper's `run` options that install the supervisor's filter; proot also gets statx refused
 * (ENOSYS: proot 5.1.0 does not translate its path, libc falls back to newfstatat).
 */
export function filterArgs(mechanism: 'bwrap' | 'proot'): string[] {
  return [
    '--ids-socket',
    String(IDS_SOCKET_FD),
    ...(mechanism === 'proot' ? ['--no-statx'] : [])
  ];
}

/**
 * proot's environment under the supervisor: no seccomp acceleration, so that proot translates a
 * notified call's path before seccomp runs (it stops at syscall entry; RET_TRACE would come after
 * RET_USER_NOTIF, and never be reached).
 */
export const PROOT_UNDER_SUPERVISOR_ENV = { PROOT_NO_SECCOMP: '1' };
