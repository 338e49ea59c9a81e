/**
 * `rpz-exec step` on this host (it is static, and needs no container): what the Docker backend
 * relies on to follow steps through files.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { helperPath } from '../../../src/backends/docker/helper-path';
import { FrameParser } from '../../../src/backends/docker/frames';

function step(
  limit: number,
  script: string
): { code: number | null; frames: string[]; exit: string; ms: number } {
  const dir = mkdtempSync(join(tmpdir(), 'rpz-exec-step-'));
  const log = join(dir, '0.log');
  const exit = join(dir, '0.exit');
  writeFileSync(log, '');
  writeFileSync(exit, '');
  const started = Date.now();
  const result = spawnSync(helperPath(), [
    'step',
    log,
    exit,
    String(limit),
    '/bin/sh',
    '1',
    'ONLY=this',
    '--',
    'sh',
    '-c',
    script
  ]);
  const frames = new FrameParser()
    .push(readFileSync(log))
    .map(f => `${f.stream}:${f.bytes.toString()}`);
  return {
    code: result.status,
    frames,
    exit: readFileSync(exit, 'utf8'),
    ms: Date.now() - started
  };
}

describe('rpz-exec step', () => {
  it('frames stdout and stderr apart, with exactly the given environment, and writes the exit code', () => {
    const run = step(1000, 'echo out; echo err >&2; env; exit 3');
    const of = (stream: string): string =>
      run.frames
        .filter(f => f.startsWith(`${stream}:`))
        .map(f => f.slice(stream.length + 1))
        .join('');
    expect(of('stdout')).toBe(`out\nONLY=this\nPWD=${process.cwd()}\n`);
    expect(of('stderr')).toBe('err\n');
    expect(run.exit).toBe('3\n');
    expect(run.code).toBe(3);
  });

  it('keeps the order in which the two streams were written', () => {
    // Apart in time: written at once, two pipes have no order to keep.
    const run = step(1000, 'echo 1; sleep 0.3; echo 2 >&2; sleep 0.3; echo 3');
    expect(run.frames).toEqual(['stdout:1\n', 'stderr:2\n', 'stdout:3\n']);
  });

  it('keeps at most the limit and drains the rest without blocking the program', () => {
    const run = step(
      10,
      'head -c 1000000 /dev/zero | tr "\\0" x; echo end >&2'
    );
    expect(run.frames.join('').replace(/^stdout:/, '')).toBe('x'.repeat(10));
    expect(run.exit).toBe('0\n');
  });

  it('reports a signal as 128 + its number', () => {
    expect(step(100, 'kill -TERM $$').exit).toBe('143\n');
  });

  it('ends with the program even if a background process keeps its output open', () => {
    const run = step(100, 'echo first; (sleep 5; echo late) & exit 0');
    expect(run.frames).toEqual(['stdout:first\n']);
    expect(run.ms).toBeLessThan(4000);
  });

  it('says when the program cannot be executed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rpz-exec-step-'));
    writeFileSync(join(dir, 'l'), '');
    writeFileSync(join(dir, 'e'), '');
    spawnSync(helperPath(), [
      'step',
      join(dir, 'l'),
      join(dir, 'e'),
      '100',
      '-',
      '0',
      '--',
      'no-such-program'
    ]);
    expect(
      new FrameParser().push(readFileSync(join(dir, 'l')))[0].bytes.toString()
    ).toBe(
      'rpz-exec: cannot execute no-such-program: No such file or directory\n'
    );
    expect(readFileSync(join(dir, 'e'), 'utf8')).toBe('127\n');
  });
});
