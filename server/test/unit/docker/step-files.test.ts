import { execFileSync } from 'node:child_process';
import {
  mkdtempSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StepFiles } from '../../../src/backends/docker/step-files';

describe('StepFiles', () => {
  let files: StepFiles;
  beforeEach(async () => {
    files = new StepFiles(join(mkdtempSync(join(tmpdir(), 'steps-')), 'run'));
    await files.create();
  });
  afterEach(() => rm(files.hostDir, { recursive: true, force: true }));

  it('tells a step that never started from one running and one that ended', async () => {
    expect(await files.state(0)).toEqual({ kind: 'not-started' });
    await files.prepare(0);
    // Prepared but no exec recorded: nothing ran, so it may start from scratch.
    expect(await files.state(0)).toEqual({ kind: 'not-started' });
    await files.recordExec(0, 'abc123');
    expect(await files.state(0)).toEqual({ kind: 'started', execId: 'abc123' });
    writeFileSync(files.hostPath(0, 'exit'), '3\n');
    expect(await files.state(0)).toEqual({
      kind: 'started',
      execId: 'abc123',
      exitCode: 3
    });
  });

  it('makes files any step user may write but not read, in a folder it cannot list', async () => {
    await files.prepare(1);
    expect(statSync(files.hostDir).mode & 0o777).toBe(0o711);
    expect(statSync(files.hostPath(1, 'log')).mode & 0o777).toBe(0o622);
    expect(statSync(files.hostPath(1, 'exit')).mode & 0o777).toBe(0o622);
    expect(files.containerPath(1, 'log')).toBe('/.reproserver/steps/1.log');
  });

  it('starts a step again from empty files', async () => {
    await files.prepare(0);
    writeFileSync(
      files.hostPath(0, 'log'),
      'left by a start that never happened'
    );
    await files.prepare(0);
    expect(readFileSync(files.hostPath(0, 'log'), 'utf8')).toBe('');
  });

  it('ignores an exit file that is not an exit code', async () => {
    await files.recordExec(0, 'abc');
    writeFileSync(files.hostPath(0, 'exit'), '3');
    expect(await files.exitCode(0)).toBeUndefined();
    writeFileSync(files.hostPath(0, 'exit'), 'x\n');
    expect(await files.exitCode(0)).toBeUndefined();
  });

  it('follows no link and never blocks on a FIFO a step put there', async () => {
    const secret = join(tmpdir(), `secret-${process.pid}`);
    writeFileSync(secret, '0\n');
    symlinkSync(secret, files.hostPath(0, 'exit'));
    await expect(files.exitCode(0)).rejects.toThrow(/ELOOP|symbolic link/);
    execFileSync('mkfifo', [files.hostPath(1, 'exit')]);
    await expect(files.exitCode(1)).rejects.toThrow(/not a regular file/);
    await expect(files.openLog(1)).rejects.toThrow(/ENOENT/);
  });
});
