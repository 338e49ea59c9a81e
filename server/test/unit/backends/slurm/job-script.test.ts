import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  jobScript,
  shellQuote
} from '../../../../src/backends/slurm/job-script';
import { stepFiles } from '../../../../src/backends/slurm/layout';

describe('shellQuote', () => {
  it.each(["it's", '$(rm -rf /)', '`x`', 'a\nb', '"', '\\', ''])(
    'keeps %j as one word, unexpanded',
    word => {
      expect(
        execFileSync('bash', ['-c', `printf %s ${shellQuote(word)}`], {
          encoding: 'utf8'
        })
      ).toBe(word);
    }
  );
});

/** Runs the script of these steps with bash (plain commands standing for the sandbox's). */
function runScript(argvs: string[][], env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'reproserver-job-'));
  mkdirSync(join(dir, 'steps'));
  const script = jobScript(
    dir,
    argvs.map(argv => ({
      command: { file: argv[0], argv, env },
      emulation: false
    }))
  );
  writeFileSync(join(dir, 'job.sh'), script);
  let status = 0;
  try {
    execFileSync('bash', [join(dir, 'job.sh')], {
      env: { PATH: process.env.PATH!, SLURM_JOB_ID: '7' },
      stdio: 'ignore'
    });
  } catch (error) {
    status = (error as { status: number }).status;
  }
  const read = (position: number, file: 'stdout' | 'stderr' | 'exit') => {
    try {
      return readFileSync(stepFiles(dir, position)[file], 'utf8');
    } catch {
      return null;
    }
  };
  return { status, read };
}

describe('jobScript', () => {
  it('runs the steps in turn, each with only its environment, its output in its files', () => {
    const { status, read } = runScript(
      [
        ['/bin/sh', '-c', 'echo "$GREETING $0"; echo err >&2', "l'arg"],
        ['/bin/sh', '-c', 'env']
      ],
      { GREETING: 'hi there' }
    );
    expect(status).toBe(0);
    expect(read(0, 'stdout')).toBe("hi there l'arg\n");
    expect(read(0, 'stderr')).toBe('err\n');
    expect(read(0, 'exit')).toBe('0\n');
    // Nothing of the job's environment (SLURM_JOB_ID, PATH) but what the step was given.
    expect(read(1, 'stdout')).not.toMatch(/SLURM_JOB_ID|^PATH=/m);
    expect(read(1, 'stdout')).toMatch(/^GREETING=hi there$/m);
  });

  it('stops at the first failing step, and exits with its code', () => {
    const { status, read } = runScript([
      ['/bin/sh', '-c', 'exit 3'],
      ['/bin/sh', '-c', 'echo never']
    ]);
    expect(status).toBe(3);
    expect(read(0, 'exit')).toBe('3\n');
    expect(read(1, 'stdout')).toBe(null);
  });
});
