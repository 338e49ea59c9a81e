/**
 * Experiments that change user (a daemon that drops root, `setpriv`, `runuser`, `su`, a step
 * recorded as another uid), under bubblewrap: each run gets a user namespace that maps a whole
 * range of ids, so identity changes are real kernel operations and cost nothing at run time.
 *
 * Why a mapped range rather than emulation: bubblewrap on its own maps exactly one id (the step's
 * onto the server's user), so `setresuid(1000)` fails with EINVAL. Emulating ids at the syscall
 * level (proot's `-0`/`-i`, or a seccomp user-notification supervisor) has to fake every id and
 * stat call consistently: proot 5.1.0 already gets it wrong (it leaves `statx`, which coreutils
 * uses, untranslated, and refuses `setresgid` after `setresuid` even with PR_SET_KEEPCAPS, which
 * `setpriv` relies on), and it slows every system call of every package. A mapped range makes the
 * kernel do it: ownership on disk is real, `stat` agrees with `getuid`, static binaries included.
 *
 * Where a range can be mapped: a root server writes the namespace's `uid_map`/`gid_map` itself
 * (range: root's `/etc/subuid` entry, else `DEFAULT_MAPPED_BASE`); a normal user needs
 * `newuidmap`/`newgidmap` (Debian `uidmap`) and entries in `/etc/subuid` and `/etc/subgid`.
 * Elsewhere (proot, or bubblewrap without a range) each step maps one id, and identity changes are
 * emulated by the helper's seccomp supervisor (`emulated-ids.ts`, `server/helpers/identity.c`).
 *
 * The map (inner → host): the package's most common owner (`owners.common`, usually root) → the
 * server's own user, so the cached tree (the server's files) looks owned as recorded; every other
 * inner id from 0 to `MAPPED_IDS - 1` → the range. Entries recorded with another owner
 * (`owners.others`) are given their owner inside the namespace before the first step.
 *
 * How a run uses it: a "holder" process (`namespace-holder.ts`, the helper's `hold`, which ends
 * with the server) owns the namespace; the server writes its maps, the holder forbids nested user
 * namespaces in it (`user.max_user_namespaces` = 0, as `--disable-userns` would) and mounts the
 * run's overlay there when it has one, and every step enters it (`nsenter -U`, with `-m` for the
 * overlay) and starts bubblewrap there without `--unshare-user`. bubblewrap 0.8 cannot switch to
 * a user of a joined namespace (it sets the uid before the gid), so the helper does
 * (`rpz-exec as UID GID run`).
 * After the steps, files the run's ids own are listed (their owners are reported for outputs, as
 * Docker reports them) and, for a server that is not root, given back to the server's user inside
 * the namespace, so that it can read and remove them.
 */
import { existsSync } from 'node:fs';
import { lstat, readFile, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Owners } from '../../sandbox/owners';
import { NamespaceHolder, type OverlayLayers } from './namespace-holder';
import { nulRecords, RecordTooLongError } from './nul-records';
import { spawnFar } from './spawner';
import { resolveInRoot, type FoundFiles } from './run-tree';

/** Inner ids a mapped namespace covers: 0 to 65535, like a usual `/etc/subuid` entry. */
export const MAPPED_IDS = 65536;
/**
 * First host id of the range of a root server without a `/etc/subuid` entry for root: high, below
 * 2^31, in no usual range, and below the proot run users' range (`run-user.ts`).
 */
export const DEFAULT_MAPPED_BASE = 2_100_000_000;

/** One line of a uid_map/gid_map: `count` ids from `inner` map to ids from `outer`. */
export interface MapLine {
  inner: number;
  outer: number;
  count: number;
}

/** A host range of ids a user may map (one line of `/etc/subuid` or `/etc/subgid`). */
export interface IdRange {
  start: number;
  count: number;
}

/**
 * The ranges `/etc/subuid`-format `text` gives the user (by name or by number). Malformed lines,
 * other users' lines and empty ranges are skipped: the file is the system's, not ours.
 */
export function parseSubordinateIds(
  text: string,
  user: { name: string; id: number }
): IdRange[] {
  const ranges: IdRange[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(':');
    if (fields.length !== 3 || line.trim().startsWith('#')) {
      continue;
    }
    const [owner, start, count] = fields;
    if (owner !== user.name && owner !== String(user.id)) {
      continue;
    }
    if (!/^\d{1,10}$/.test(start) || !/^\d{1,10}$/.test(count)) {
      continue;
    }
    const range = { start: Number(start), count: Number(count) };
    if (range.count > 0 && range.start + range.count <= 2 ** 32 - 1) {
      ranges.push(range);
    }
  }
  return ranges;
}

/** The first range with room for `count` ids, or null. */
export function pickRange(ranges: IdRange[], count: number): IdRange | null {
  return ranges.find(range => range.count >= count) ?? null;
}

/**
 * The map of a run's namespace: inner `own` → the server's `hostOwn`; every other inner id below
 * `count` → `range.start + inner`. Throws when the range is too small or `own` out of it.
 */
export function buildIdMap(
  own: number,
  hostOwn: number,
  range: IdRange,
  count = MAPPED_IDS
): MapLine[] {
  if (!Number.isInteger(own) || own < 0 || own >= count) {
    throw new Error(`Id ${own} is outside the ${count} ids mapped.`);
  }
  if (range.count < count) {
    throw new Error(
      `The range of ${range.count} ids from ${range.start} is smaller than ${count}.`
    );
  }
  const lines: MapLine[] = [];
  if (own > 0) {
    lines.push({ inner: 0, outer: range.start, count: own });
  }
  lines.push({ inner: own, outer: hostOwn, count: 1 });
  if (own + 1 < count) {
    lines.push({
      inner: own + 1,
      outer: range.start + own + 1,
      count: count - own - 1
    });
  }
  return lines;
}

/** The text written to `/proc/PID/uid_map` (one write). */
export function mapText(lines: MapLine[]): string {
  return lines.map(l => `${l.inner} ${l.outer} ${l.count}\n`).join('');
}

/** `newuidmap PID inner outer count...`'s arguments after the pid. */
export function mapArgs(lines: MapLine[]): string[] {
  return lines.flatMap(l => [
    String(l.inner),
    String(l.outer),
    String(l.count)
  ]);
}

/** The inner id a host id stands for under `lines`, or null when it is not mapped. */
export function innerId(lines: MapLine[], host: number): number | null {
  for (const line of lines) {
    if (host >= line.outer && host < line.outer + line.count) {
      return line.inner + (host - line.outer);
    }
  }
  return null;
}

/**
 * The owner in a run's namespace of a file of its tree, from its path relative to the tree's root
 * and its owner as the host sees it (`UserNamespace.settleOwners`).
 */
export type OwnerOf = (
  path: string,
  host: { uid: number; gid: number }
) => [number, number];

/** How a root server or a user with subordinate ids maps ranges here; found once at start. */
export interface IdMapping {
  /** `direct`: this process (root) writes the maps; `newuidmap`: the setuid tools do. */
  writer: 'direct' | 'newuidmap';
  uidRange: IdRange;
  gidRange: IdRange;
  /** The server's own ids. */
  uid: number;
  gid: number;
  programs: IdPrograms;
}

export interface IdPrograms {
  nsenter: string;
  find: string;
  chown: string;
  xargs: string;
  rm: string;
  newuidmap?: string;
  newgidmap?: string;
}

function findProgram(name: string): string | undefined {
  return ['/usr/bin', '/bin', '/usr/sbin', '/sbin']
    .map(dir => join(dir, name))
    .find(path => existsSync(path));
}

/**
 * How ranges can be mapped by this process, from its ids, `/etc/subuid`, `/etc/subgid` and the
 * programs present; a sentence when they cannot (ids then stay emulated). Not yet tried: the
 * sandbox's probe starts a namespace with it (`UserNamespace.start`) before relying on it.
 */
export async function findIdMapping(
  files = { subuid: '/etc/subuid', subgid: '/etc/subgid' }
): Promise<IdMapping | string> {
  const uid = process.getuid?.() ?? -1;
  const gid = process.getgid?.() ?? -1;
  const programs = {
    nsenter: findProgram('nsenter'),
    find: findProgram('find'),
    chown: findProgram('chown'),
    xargs: findProgram('xargs'),
    rm: findProgram('rm'),
    newuidmap: findProgram('newuidmap'),
    newgidmap: findProgram('newgidmap')
  };
  const { nsenter, find, chown, xargs, rm } = programs;
  if (!nsenter || !find || !chown || !xargs || !rm) {
    return 'nsenter, find, xargs, chown or rm is missing';
  }
  let name = String(uid);
  try {
    name = userInfo().username;
  } catch {
    // no name for this id: only numeric entries can match
  }
  const read = (path: string): Promise<string> =>
    readFile(path, 'utf8').catch(() => '');
  const subuid = pickRange(
    parseSubordinateIds(await read(files.subuid), { name, id: uid }),
    MAPPED_IDS
  );
  const subgid = pickRange(
    parseSubordinateIds(await read(files.subgid), { name, id: uid }),
    MAPPED_IDS
  );
  const found = { nsenter, find, chown, xargs, rm };
  if (uid === 0) {
    const fallback = { start: DEFAULT_MAPPED_BASE, count: MAPPED_IDS };
    return {
      writer: 'direct',
      uidRange: subuid ?? fallback,
      gidRange: subgid ?? fallback,
      uid,
      gid,
      programs: found
    };
  }
  if (!programs.newuidmap || !programs.newgidmap) {
    return 'newuidmap/newgidmap (Debian package uidmap) are not installed';
  }
  if (!subuid || !subgid) {
    return `no range of ${MAPPED_IDS} ids for ${name} in /etc/subuid and /etc/subgid`;
  }
  return {
    writer: 'newuidmap',
    uidRange: subuid,
    gidRange: subgid,
    uid,
    gid,
    programs: {
      ...found,
      newuidmap: programs.newuidmap,
      newgidmap: programs.newgidmap
    }
  };
}

/** One sentence for the sandbox's detail: how ids are handled. */
export function describeIds(
  mechanism: 'bwrap' | 'proot',
  mapping: IdMapping | null,
  emulationWhy: string | null = null
): string {
  if (mapping) {
    return `ids: a mapped range (${MAPPED_IDS} ids from ${mapping.uidRange.start}${mapping.writer === 'newuidmap' ? ', by newuidmap' : ''}), so steps may change user as on Docker`;
  }
  const one = `ids: one per step${mechanism === 'proot' ? '' : ' (no range of ids can be mapped)'}`;
  if (emulationWhy !== null) {
    return `${one}; changes of user FAIL: ${emulationWhy}`;
  }
  // One id: identity changes are emulated by the helper's supervisor (`emulated-ids.ts`).
  return `${one}; changes of user emulated by a supervisor of the step's system calls (setpriv, su, chown and stat behave as on Docker; the kernel still checks reads as the sandbox's user, only writes are checked against the emulated owners)`;
}

/** What a probe's bubblewrap sandbox holds: the helper at /rpz-exec, its own /proc and /dev. */
export function bwrapProbeMounts(helper: string): string[] {
  return ['--ro-bind', helper, '/rpz-exec', '--proc', '/proc', '--dev', '/dev'];
}

/** Whether a package's common owner fits in a mapped namespace (else ids stay emulated). */
export function mapsOwner(owner: readonly [number, number]): boolean {
  return owner.every(id => Number.isInteger(id) && id >= 0 && id < MAPPED_IDS);
}

/** A run's user namespace with a range mapped; see the header. */
export class UserNamespace {
  private constructor(
    /** The process holding it (and the run's overlay, when it has one). */
    readonly holder: NamespaceHolder,
    readonly uidMap: MapLine[],
    readonly gidMap: MapLine[],
    private readonly mapping: IdMapping
  ) {}

  /**
   * Starts the holder and maps `owner` (the package's common owner) onto the server's ids; with
   * `overlay`, the holder also mounts the run's overlay, in the namespace (`overlay.ts`).
   */
  static async start(
    mapping: IdMapping,
    owner: [number, number],
    helper: string,
    overlay?: OverlayLayers
  ): Promise<UserNamespace> {
    const uidMap = buildIdMap(owner[0], mapping.uid, mapping.uidRange);
    const gidMap = buildIdMap(owner[1], mapping.gid, mapping.gidRange);
    try {
      const holder = await NamespaceHolder.start({
        helper,
        nsenter: mapping.programs.nsenter,
        writeMaps: pid => writeMaps(pid, mapping, uidMap, gidMap),
        // bubblewrap runs in it without a namespace of its own, so cannot forbid them itself.
        noNestedUserns: true,
        overlay
      });
      return new UserNamespace(holder, uidMap, gidMap, mapping);
    } catch (error) {
      throw new Error(
        `Cannot map a range of ids for the run${overlay ? ' and mount its overlay' : ''}: ${(error as Error).message}`
      );
    }
  }

  /** The prefix that runs a command in the namespace, with full capabilities in it. */
  enter(): string[] {
    return this.holder.enter();
  }

  /**
   * Gives entries recorded with another owner than the common one that owner, inside the
   * namespace (before any step: nothing of the run moves meanwhile). `paths` are as seen from
   * `enter` (a run's tree resolved by the caller, never through the experiment's links).
   */
  async chownAll(
    enter: string[],
    entries: { path: string; uid: number; gid: number }[]
  ): Promise<void> {
    const byOwner = new Map<string, string[]>();
    for (const { path, uid, gid } of entries) {
      const key = `${uid}:${gid}`;
      let paths = byOwner.get(key);
      if (paths === undefined) {
        paths = [];
        byOwner.set(key, paths);
      }
      paths.push(path);
    }
    for (const [owner, paths] of byOwner) {
      // Paths the package recorded: text, as arguments.
      const batches = new ChownBatches<string>(batch =>
        runTool([
          ...enter,
          this.mapping.programs.chown,
          '-h',
          owner,
          '--',
          ...batch
        ])
      );
      for (const path of paths) {
        await batches.add(path);
      }
      await batches.flush();
    }
  }

  /**
   * After the steps, before anything of the tree is read: how to tell the owner, in the run's
   * namespace, of a file the run's outputs hold (by its path relative to the run's root, and its
   * owner as the host sees it).
   *
   * A root server (`direct`) reads any file, and the host's ids of a file map back to the inner
   * ones (`innerId`): nothing to do now. For a server that is not root, the entries under `tree`
   * (a run's copy, or an overlay's upper layer) owned by another inner id than the common owner's
   * are listed inside the namespace with their inner ids, then given to the common owner (the
   * server's user on the host): directories always (so that the tree can be walked and removed),
   * other entries when their inode changed after `sinceMs` (the run's, which may be read as
   * outputs; unchanged recorded files keep their owners, which `innerId` reads back). The listing
   * is as long as the run made it: it is read as it comes, `chown` runs in bounded batches, and the
   * owners of files given back are kept up to `MAX_GIVEN_BACK_BYTES` of paths (past that, a file
   * keeps its owner in the run: its owner is still told right, only the server may not read it).
   * `scratch` is a folder of the server's own, outside the tree, for the lists given to `chown`.
   * On an overlay the owners are changed through its merged view (`through`): overlayfs
   * keeps the owners it read in its own inodes and checks access against them, so a change made
   * in the upper layer behind its back would leave the server locked out of what it must read.
   */
  async settleOwners(
    tree: string,
    sinceMs: number,
    scratch: string,
    through?: { tree: string; enter: string[] }
  ): Promise<OwnerOf> {
    const own = this.uidMap.find(
      l => l.count === 1 && l.outer === this.mapping.uid
    )!.inner;
    const ownGroup = this.gidMap.find(
      l => l.count === 1 && l.outer === this.mapping.gid
    )!.inner;
    if (this.mapping.writer === 'direct') {
      return (_path, host) => [
        innerId(this.uidMap, host.uid) ?? own,
        innerId(this.gidMap, host.gid) ?? ownGroup
      ];
    }
    const { find, chown, xargs } = this.mapping.programs;
    const view = through ?? { tree, enter: this.enter() };
    const prefix = Buffer.from(join(view.tree, '/'));
    // The paths go to `chown` through a file and `xargs -0`, byte for byte: a name need not be
    // UTF-8, and a program's arguments from Node.js are.
    const batchFile = join(scratch, 'give-back.list');
    const giveBack = new ChownBatches<Buffer>(async paths => {
      await writeFile(
        batchFile,
        Buffer.concat(paths.flatMap(path => [prefix, path, NUL])),
        { mode: 0o600 }
      );
      await runTool([
        ...view.enter,
        xargs,
        '-0',
        '-r',
        '-a',
        batchFile,
        '--',
        chown,
        '-h',
        `${own}:${ownGroup}`,
        '--'
      ]);
    });
    // Owners of the files given back (their ids on the host are the server's then); the others
    // keep theirs, which `innerId` reads back. Bounded: the listing is as long as the run made it.
    const givenBack = new Map<string, [number, number]>();
    let keptBytes = 0;
    await listTool(
      [
        ...this.enter(),
        find,
        tree,
        '-mindepth',
        '1',
        '(',
        '!',
        '-uid',
        String(own),
        '-o',
        '!',
        '-gid',
        String(ownGroup),
        ')',
        '-printf',
        '%U %G %y %C@ %P\\0'
      ],
      async record => {
        const entry = listedEntry(record);
        if (entry === null) {
          return;
        }
        if (entry.type === 'd') {
          // Always: the server must walk and remove the tree.
          await giveBack.add(entry.path);
        } else if (
          entry.changedMs > sinceMs &&
          keptBytes + entry.path.length <= MAX_GIVEN_BACK_BYTES
        ) {
          // The run's files, to be read as outputs. Past the bound they stay the run's ids':
          // their owners are still right, and only one the server may not read is missed.
          keptBytes += entry.path.length;
          // Keyed as the server's walks name it (UTF-8).
          givenBack.set(entry.path.toString('utf8'), [entry.uid, entry.gid]);
          await giveBack.add(entry.path);
        }
      }
    );
    await giveBack.flush();
    return (path, host) =>
      givenBack.get(path) ?? [
        innerId(this.uidMap, host.uid) ?? own,
        innerId(this.gidMap, host.gid) ?? ownGroup
      ];
  }

  /**
   * Removes a run's folder from inside the namespace, whose root may remove what any of the run's
   * ids made: a server that is not root may not, where a step kept a folder to itself and the run
   * ended before its owners were given back (cancelled, timed out, failed). A root server removes
   * it itself. The folder is the server's, outside the run's tree: no path of the run's leads to
   * it, and `rm` follows no link it meets.
   */
  async removeFolder(path: string): Promise<void> {
    if (this.mapping.writer === 'direct') {
      return;
    }
    await runTool([
      ...this.enter(),
      this.mapping.programs.rm,
      '-rf',
      '--one-file-system',
      '--',
      path
    ]);
  }

  /** Ends the holder: the namespace goes away with the last process in it. */
  stop(): Promise<void> {
    return this.holder.stop();
  }
}

/** Writes a namespace's maps, as this process may: itself when root, else through `newuidmap`. */
async function writeMaps(
  pid: number,
  { programs, writer }: IdMapping,
  uidMap: MapLine[],
  gidMap: MapLine[]
): Promise<void> {
  if (writer === 'direct') {
    await writeFile(`/proc/${pid}/uid_map`, mapText(uidMap));
    await writeFile(`/proc/${pid}/gid_map`, mapText(gidMap));
    return;
  }
  await runTool([programs.newuidmap!, String(pid), ...mapArgs(uidMap)]);
  await runTool([programs.newgidmap!, String(pid), ...mapArgs(gidMap)]);
}

/** Paths given to one `chown`, and their bytes: well within the kernel's bound on arguments. */
const CHOWN_BATCH = 500;
const CHOWN_BATCH_BYTES = 128 * 1024;

/** A path the listing of a run's tree may hold: `chown` cannot take a longer one (PATH_MAX). */
const MAX_LISTED_PATH_BYTES = 4096;

/** Path bytes of the files given back whose owners are kept (about 100,000 usual paths). */
const MAX_GIVEN_BACK_BYTES = 8 * 1024 * 1024;

/**
 * Paths to `chown`, run in batches as they come, one batch at a time: text (arguments) or bytes
 * (a list for `xargs -0`).
 */
class ChownBatches<Path extends string | Buffer> {
  constructor(private readonly run: (paths: Path[]) => Promise<unknown>) {}

  async add(path: Path): Promise<void> {
    this._paths.push(path);
    this._bytes += Buffer.byteLength(path) + 1;
    if (this._paths.length >= CHOWN_BATCH || this._bytes >= CHOWN_BATCH_BYTES) {
      await this.flush();
    }
  }

  async flush(): Promise<void> {
    if (this._paths.length > 0) {
      const paths = this._paths;
      this._paths = [];
      this._bytes = 0;
      await this.run(paths);
    }
  }

  private _paths: Path[] = [];
  private _bytes = 0;
}

const NUL = Buffer.from([0]);

/** One record of the listing (`%U %G %y %C@ %P`), or null when it is not one. */
export function listedEntry(record: Buffer): {
  uid: number;
  gid: number;
  type: string;
  changedMs: number;
  path: Buffer;
} | null {
  const fields: string[] = [];
  let start = 0;
  for (let i = 0; i < 4; i++) {
    const end = record.indexOf(0x20, start);
    if (end === -1) {
      return null;
    }
    fields.push(record.toString('latin1', start, end));
    start = end + 1;
  }
  const [uid, gid, type, changed] = fields;
  if (
    !/^\d{1,10}$/.test(uid) ||
    !/^\d{1,10}$/.test(gid) ||
    !/^\S$/.test(type) ||
    !/^\d{1,20}(\.\d{0,20})?$/.test(changed) ||
    start >= record.length
  ) {
    return null;
  }
  return {
    uid: Number(uid),
    gid: Number(gid),
    type,
    changedMs: Number(changed) * 1000,
    path: record.subarray(start)
  };
}

/**
 * Runs a tool that lists NUL-terminated records, handing each to `onRecord` as it comes (the
 * tool waits meanwhile); rejects when it fails, or when a record is longer than a path can be.
 */
async function listTool(
  argv: string[],
  onRecord: (record: Buffer) => Promise<void>
): Promise<void> {
  const child = await spawnFar(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {}
  });
  const stderr = child.stderrHead();
  const closed = new Promise<number | null>(resolve =>
    child.once('close', resolve)
  );
  try {
    for await (const record of nulRecords(
      child.stdout as AsyncIterable<Buffer>,
      MAX_LISTED_PATH_BYTES + 64
    )) {
      await onRecord(record);
    }
  } catch (error) {
    child.kill('SIGKILL');
    await closed;
    if (error instanceof RecordTooLongError) {
      throw new Error(
        `The run left a path longer than ${MAX_LISTED_PATH_BYTES} bytes in its tree; its files cannot be given back to the server.`
      );
    }
    throw error;
  }
  failedUnlessZero(argv[0], await closed, stderr());
}

/** Runs a tool that prints nothing we need; rejects with its stderr when it fails. */
async function runTool(argv: string[]): Promise<void> {
  const child = await spawnFar(argv[0], argv.slice(1), {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {}
  });
  const stderr = child.stderrHead();
  const code = await new Promise<number | null>(resolve =>
    child.once('close', resolve)
  );
  failedUnlessZero(argv[0], code, stderr());
}

/** Throws, with the first line a tool said on stderr, unless it exited with 0. */
function failedUnlessZero(
  program: string,
  code: number | null,
  stderr: string
): void {
  if (code !== 0) {
    throw new Error(
      `${program} failed: ${stderr.trim().split('\n')[0] || `exit ${code}`}`
    );
  }
}

/** What a non-root step keeps from bubblewrap in a mapped namespace: what the helper needs. */
const SWITCH_CAPABILITIES = ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP'];

/**
 * bubblewrap's capability arguments of a step in a mapped namespace: a root step's (`root`, from
 * `capabilities.ts`), or, for another user, only what the helper needs to become it (it then
 * drops every capability for good, `rpz-exec as`).
 */
export function mappedCapabilityArgs(uid: number, root: string[]): string[] {
  return uid === 0
    ? root
    : [
        '--cap-drop',
        'ALL',
        ...SWITCH_CAPABILITIES.flatMap(cap => ['--cap-add', cap])
      ];
}

/** The helper's command line `HELPER run ...` as `HELPER as UID GID run ...`. */
export function helperAs(
  exec: string[],
  step: { uid: number; gid: number }
): string[] {
  if (exec[1] !== 'run') {
    throw new Error('The step does not start with the helper.');
  }
  return [exec[0], 'as', String(step.uid), String(step.gid), ...exec.slice(1)];
}

/**
 * Whether ranges can be mapped here for real: finds how (`findIdMapping`), starts a namespace,
 * and runs the helper in bubblewrap inside it, switching to a user of the range. The mapping, or
 * a sentence saying why not (ids then stay emulated).
 */
export async function probeIdMapping(
  bwrap: string,
  namespaces: string[],
  helper: string
): Promise<IdMapping | string> {
  const mapping = await findIdMapping();
  if (typeof mapping === 'string') {
    return mapping;
  }
  let ns: UserNamespace | undefined;
  try {
    ns = await UserNamespace.start(mapping, [0, 0], helper);
    await runTool([
      ...ns.enter(),
      bwrap,
      ...namespaces.filter(option => option !== '--unshare-user'),
      ...bwrapProbeMounts(helper),
      ...mappedCapabilityArgs(1000, []),
      '--',
      ...helperAs(['/rpz-exec', 'run', '/rpz-exec', '0', '--'], {
        uid: 1000,
        gid: 1000
      }),
      '/rpz-exec',
      'oom-kills'
    ]);
    return mapping;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await ns?.stop();
  }
}

/**
 * Gives the run's tree the owners the package recorded for entries that differ from the common
 * one (mapped onto the server's user): a step recorded as user 1000 then owns its files, as on
 * Docker. `root` is the run's tree as the host reaches it; an overlay's is changed from inside its
 * mount namespace. Paths are resolved inside the tree, never through a link (`resolveInRoot`).
 * Returns the paths (inside the sandbox) whose owner was changed.
 */
export async function giveRecordedOwners(
  ns: UserNamespace,
  root: string,
  overlay: { root: string; merged: string; enter(): string[] } | undefined,
  owners: Owners
): Promise<Set<string>> {
  const entries: { path: string; uid: number; gid: number; rel: string }[] = [];
  for (const [rel, [uid, gid]] of Object.entries(owners.others)) {
    if (uid >= MAPPED_IDS || gid >= MAPPED_IDS) {
      continue; // not mapped: the entry keeps the common owner
    }
    const host = await resolveInRoot(root, '/' + rel);
    if (host === null || !(await lstat(host).catch(() => null))) {
      continue;
    }
    entries.push({
      path: overlay ? overlay.merged + host.slice(overlay.root.length) : host,
      uid,
      gid,
      rel
    });
  }
  await ns.chownAll(overlay ? overlay.enter() : ns.enter(), entries);
  return new Set(entries.map(entry => '/' + entry.rel));
}

/**
 * The run's changed files without those only `giveRecordedOwners` changed: on an overlay, a
 * change of owner copies a file up, and it is the run's change only if its inode changed again
 * once the run started.
 */
export function withoutOwnerChanges(
  changed: FoundFiles,
  prepared: Set<string> | undefined,
  sinceMs: number
): FoundFiles {
  if (!prepared || prepared.size === 0) {
    return changed;
  }
  return {
    ...changed,
    files: changed.files.filter(
      file => !prepared.has(file.path) || file.info.ctimeMs >= sinceMs
    )
  };
}
