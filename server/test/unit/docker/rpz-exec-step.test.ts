/**
 * `rpz-exec step` and `rpz-exec follow` on this host (the helper is static, and needs no
 * container): what the Docker backend relies on to run steps and follow them.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helperPath } from '../../../src/backends/docker/helper-path';
import {
  FrameParser,
  type FollowRecord
} from '../../../src/backends/docker/frames';
import { requireRoot } from '../../helpers/requires-root';

const uid = process.getuid!();
const gid = process.getgid!();
/** Changing user needs root (the test command runs as root). */
const asRoot = (name: string, fn: () => unknown) =>
  it(name, async () => {
    requireRoot(name);
    await fn();
  });

function stepsDir(): string {
  return join(mkdtempSync(join(tmpdir(), 'rpz-exec-step-')), 'steps');
}

function step(
  dir: string,
  script: string,
  options: {
    limit?: number;
    position?: number;
    uid?: number;
    gid?: number;
  } = {}
): { code: number | null; said: string[]; ms: number } {
  const started = Date.now();
  const result = spawnSync(helperPath(), [
    'step',
    dir,
    String(options.position ?? 0),
    String(options.limit ?? 1000),
    String(options.uid ?? uid),
    String(options.gid ?? gid),
    '/bin/sh',
    '1',
    'ONLY=this',
    '--',
    'sh',
    '-c',
    script
  ]);
  return {
    code: result.status,
    said: described(new FrameParser().push(result.stdout)),
    ms: Date.now() - started
  };
}

/** What `rpz-exec follow` says about a step, as the server reads it. */
function follow(dir: string, position = 0, offset = 0): string[] {
  const result = spawnSync(
    helperPath(),
    ['follow', dir, String(position), String(offset)],
    { timeout: 10_000, maxBuffer: 64 << 20 }
  );
  return described(new FrameParser().push(result.stdout));
}

function described(records: FollowRecord[]): string[] {
  return records.map(r =>
    r.kind === 'log'
      ? `${r.stream}:${r.bytes.toString()}`
      : r.kind === 'end'
        ? `end:${r.exitCode}`
        : `${r.kind}${'reason' in r ? `:${r.reason}` : ''}`
  );
}

const frame = (kind: number, length: number, text = ''): Buffer => {
  const header = Buffer.alloc(5);
  header[0] = kind;
  header.writeUInt32BE(length, 1);
  return Buffer.concat([header, Buffer.from(text)]);
};

describe('rpz-exec step, then follow', () => {
  it('frames stdout and stderr apart, with exactly the given environment, and ends with the exit code', () => {
    const dir = stepsDir();
    const run = step(dir, 'echo out; echo err >&2; env; exit 3');
    expect(run.code).toBe(3);
    const records = follow(dir);
    // What it said live: its claim, then what the follower reads from its files.
    expect(run.said).toEqual(['started', ...records]);
    const of = (stream: string): string =>
      records
        .filter(f => f.startsWith(`${stream}:`))
        .map(f => f.slice(stream.length + 1))
        .join('');
    expect(of('stdout')).toBe(`out\nONLY=this\nPWD=${process.cwd()}\n`);
    expect(of('stderr')).toBe('err\n');
    expect(records[records.length - 1]).toBe('end:3');
    expect(readFileSync(join(dir, '0.exit'), 'utf8')).toBe('3\n');
  });

  it('claims the step: started twice, it runs once', () => {
    const dir = stepsDir();
    const ran = join(dir, '..', 'ran');
    expect(step(dir, `echo once >> ${ran}`).said).toEqual(['started', 'end:0']);
    expect(step(dir, `echo twice >> ${ran}`).said).toEqual(['already-started']);
    expect(readFileSync(ran, 'utf8')).toBe('once\n');
    expect(follow(dir)).toEqual(['end:0']);
  });

  it('keeps the order in which the two streams were written', () => {
    // Apart in time: written at once, two pipes have no order to keep.
    const dir = stepsDir();
    step(dir, 'echo 1; sleep 0.3; echo 2 >&2; sleep 0.3; echo 3');
    expect(follow(dir)).toEqual([
      'stdout:1\n',
      'stderr:2\n',
      'stdout:3\n',
      'end:0'
    ]);
  });

  it('never waits for a reader that does not keep up: it says where it stopped, the log has the rest', async () => {
    const dir = stepsDir();
    const stepProcess = spawn(helperPath(), [
      'step',
      dir,
      '0',
      '10000000',
      String(uid),
      String(gid),
      '-',
      '0',
      '--',
      'sh',
      '-c',
      'head -c 3000000 /dev/zero | tr "\\0" x; sleep 1; echo end'
    ]);
    // Nobody reads its stdout while it writes: all of it reaches its log all the same.
    stepProcess.stdout.pause();
    const log = join(dir, '0.log');
    for (
      let waited = 0;
      !existsSync(log) || statSync(log).size < 3_000_000;
      waited += 50
    ) {
      expect(waited).toBeLessThan(900);
      await new Promise(resolve => setTimeout(resolve, 50));
    }
    const parser = new FrameParser();
    const live: FollowRecord[] = [];
    stepProcess.stdout.on('data', (chunk: Buffer) =>
      live.push(...parser.push(chunk))
    );
    stepProcess.stdout.resume();
    await new Promise(resolve => stepProcess.once('close', resolve));
    expect(live[0].kind).toBe('started');
    expect(live[live.length - 1].kind).toBe('gap');
    const frames = live.filter(r => r.kind === 'log');
    const offset = frames.reduce(
      (sum, r) => sum + 5 + (r.kind === 'log' ? r.bytes.length : 0),
      0
    );
    const rest = follow(dir, 0, offset);
    expect(rest[rest.length - 1]).toBe('end:0');
    const text = [
      ...frames.map(r => (r.kind === 'log' ? r.bytes.toString() : '')),
      ...rest.slice(0, -1).map(r => r.slice('stdout:'.length))
    ].join('');
    // Compared as a whole: a diff of megabytes helps nobody.
    expect(text.length).toBe(3_000_004);
    expect(text === 'x'.repeat(3_000_000) + 'end\n').toBe(true);
  });

  it('follows from an offset: a new follower goes on where the last one stopped', () => {
    const dir = stepsDir();
    step(dir, 'echo 1; sleep 0.3; echo 2');
    expect(follow(dir, 0, 7)).toEqual(['stdout:2\n', 'end:0']);
  });

  it('keeps at most the limit and drains the rest without blocking the program', () => {
    const dir = stepsDir();
    const run = step(
      dir,
      'head -c 1000000 /dev/zero | tr "\\0" x; echo end >&2',
      { limit: 10 }
    );
    expect(run.code).toBe(0);
    expect(follow(dir)).toEqual([`stdout:${'x'.repeat(10)}`, 'end:0']);
  });

  it('reports a signal as 128 + its number', () => {
    const dir = stepsDir();
    step(dir, 'kill -TERM $$');
    expect(follow(dir)).toEqual(['end:143']);
  });

  it('ends with the program even if a background process keeps its output open', () => {
    const dir = stepsDir();
    const run = step(dir, 'echo first; (sleep 5; echo late) & exit 0');
    expect(follow(dir)).toEqual(['stdout:first\n', 'end:0']);
    expect(run.ms).toBeLessThan(4000);
  });

  it('says when the program cannot be executed', () => {
    const dir = stepsDir();
    spawnSync(helperPath(), [
      'step',
      dir,
      '0',
      '100',
      String(uid),
      String(gid),
      '-',
      '0',
      '--',
      'no-such-program'
    ]);
    expect(follow(dir)).toEqual([
      'stderr:rpz-exec: cannot execute no-such-program: No such file or directory\n',
      'end:127'
    ]);
  });

  it('follows a running step as it goes, and ends when it does', async () => {
    const dir = stepsDir();
    const stepProcess = spawn(helperPath(), [
      'step',
      dir,
      '0',
      '1000',
      String(uid),
      String(gid),
      '-',
      '0',
      '--',
      'sh',
      '-c',
      'echo a; sleep 1; echo b'
    ]);
    await new Promise(resolve => stepProcess.stdout.once('data', resolve));
    const started = Date.now();
    const follower = spawn(helperPath(), ['follow', dir, '0', '0']);
    const parser = new FrameParser();
    const seen: { at: number; what: string[] }[] = [];
    follower.stdout.on('data', (chunk: Buffer) =>
      seen.push({
        at: Date.now() - started,
        what: described(parser.push(chunk))
      })
    );
    await new Promise(resolve => follower.once('close', resolve));
    expect(seen.flatMap(s => s.what)).toEqual([
      'stdout:a\n',
      'stdout:b\n',
      'end:0'
    ]);
    // The first line came before the step ended: it was followed, not read at the end.
    expect(seen[0].at).toBeLessThan(seen[seen.length - 1].at - 500);
  });

  it('says the step is lost when its helper is killed before it ends', async () => {
    const dir = stepsDir();
    const stepProcess = spawn(helperPath(), [
      'step',
      dir,
      '0',
      '1000',
      String(uid),
      String(gid),
      '-',
      '0',
      '--',
      'sh',
      '-c',
      'echo a; exec sleep 30'
    ]);
    await new Promise(resolve => stepProcess.stdout.once('data', resolve));
    await new Promise(resolve => setTimeout(resolve, 300));
    stepProcess.kill('SIGKILL');
    await new Promise(resolve => stepProcess.once('close', resolve));
    expect(follow(dir)).toEqual([
      'stdout:a\n',
      'lost:its helper was killed before the step ended'
    ]);
  });

  asRoot(
    'runs a non-root step with no capability at all, a root step with its own',
    () => {
      const dir = stepsDir();
      const show =
        'while read k v rest; do case $k in Uid:|Gid:|Groups:|CapInh:|CapPrm:|CapEff:|CapBnd:|CapAmb:) echo $k $v;; esac; done < /proc/self/status';
      step(dir, show, { position: 0, uid: 1234, gid: 5678 });
      step(dir, show, { position: 1, uid: 0, gid: 0 });
      const stdout = (position: number): string =>
        follow(dir, position)
          .filter(f => f.startsWith('stdout:'))
          .map(f => f.slice('stdout:'.length))
          .join('');
      const user = 'stdout:' + stdout(0);
      expect(user).toBe(
        'stdout:Uid: 1234\nGid: 5678\nGroups: 5678\nCapInh: 0000000000000000\nCapPrm: 0000000000000000\nCapEff: 0000000000000000\nCapBnd: 0000000000000000\nCapAmb: 0000000000000000\n'
      );
      const root = 'stdout:' + stdout(1);
      expect(root).toMatch(/^stdout:Uid: 0\nGid: 0\nGroups: 0\n/);
      expect(root).not.toMatch(/CapEff: 0000000000000000/);
    }
  );
});

describe('rpz-exec follow, on files a step could have changed', () => {
  function claimed(log: Buffer | 'symlink' | 'fifo'): string {
    const dir = stepsDir();
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, '0.started'), '');
    if (log === 'symlink') {
      writeFileSync(join(dir, '..', 'secret'), 'secret\n');
      symlinkSync(join(dir, '..', 'secret'), join(dir, '0.log'));
    } else if (log === 'fifo') {
      expect(spawnSync('mkfifo', [join(dir, '0.log')]).status).toBe(0);
    } else {
      writeFileSync(join(dir, '0.log'), log);
    }
    return dir;
  }

  it('says a step that never started is not started', () => {
    expect(follow(stepsDir())).toEqual(['not-started']);
  });

  it('refuses a forged frame longer than the helper writes, without reading it', () => {
    const dir = claimed(
      Buffer.concat([frame(1, 3, 'ok\n'), frame(1, 0x7fffffff, 'x')])
    );
    writeFileSync(join(dir, '0.exit'), '0\n');
    expect(follow(dir)).toEqual([
      'stdout:ok\n',
      'bad-log:its log is not made of frames of at most 64 KiB'
    ]);
  });

  it('never follows a link planted as the log, nor blocks on a FIFO', () => {
    expect(follow(claimed('symlink'))).toEqual([
      'lost:its log in the container is damaged'
    ]);
    expect(follow(claimed('fifo'))).toEqual([
      'lost:its log in the container is damaged'
    ]);
  });

  it('passes a damaged exit file on for the server to refuse', () => {
    const dir = claimed(frame(1, 3, 'ok\n'));
    appendFileSync(join(dir, '0.exit'), 'x'.repeat(100));
    expect(() => follow(dir)).toThrow(/not an exit code/);
    expect(existsSync(join(dir, '0.exit'))).toBe(true);
  });
});
