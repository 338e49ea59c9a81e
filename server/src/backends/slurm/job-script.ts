/**
 * The batch script of a run on Slurm, as a pure function of the steps' command lines: each step in
 * turn, its stdout and stderr into files of their own in the run folder (which the server follows
 * while the job runs), its exit code written last (atomically: a rename), and the job stops at the
 * first step that fails. Nothing here runs anything: `runner.ts` writes the script and submits it.
 *
 * The run folder (`layout.ts`) lies outside the run's tree: the experiment, inside its sandbox,
 * can write neither these files nor the script.
 */
import type { StepArgv } from '../sandbox/step-argv';
import { stepFiles } from './layout';

/** One step of the job: its sandbox command line, and whether steps report emulated owners. */
export interface JobStep {
  command: StepArgv;
  /** The supervisor of emulated ids reads the owners file and reports on fd 3. */
  emulation: boolean;
}

/** At most this much of each earlier step's owners report goes into a later step's owners file. */
export const MAX_REPORT_BYTES_IN_JOB = 4 * 1024 * 1024;

/** Processes of the job script itself and the sandbox around a step (bash, bwrap, the helper). */
export const JOB_OVERHEAD_PIDS = 8;

/**
 * Under root, RLIMIT_NPROC binds nothing (the kernel does not count root's processes), so the job
 * puts itself in a pids cgroup of its own, a child of its current one in cgroup v1's pids
 * hierarchy (never out of a cgroup Slurm put it in). Not under another user (the rlimit binds),
 * nor on cgroup v2 (a child cgroup there would break Slurm's own). Empty groups that jobs killed
 * before their end left are removed first.
 */
function pidsGroupLines(pids: number): string[] {
  return [
    'if [ "$(id -u)" = 0 ] && [ -d /sys/fs/cgroup/pids ]; then',
    '  own=$(sed -n "s/^[0-9]*:pids:\\(.*\\)$/\\1/p" /proc/self/cgroup)',
    '  base="/sys/fs/cgroup/pids${own%/}"',
    '  for stale in "$base"/reproserver-job-*; do rmdir "$stale" 2>/dev/null; done',
    '  group="$base/reproserver-job-${SLURM_JOB_ID:-$$}"',
    `  if mkdir "$group" 2>/dev/null && echo ${pids} > "$group/pids.max" && echo $$ > "$group/cgroup.procs"; then`,
    '    trap \'echo $$ > "$base/cgroup.procs"; rmdir "$group"\' EXIT',
    '  else',
    '    rmdir "$group" 2>/dev/null',
    '  fi',
    'fi'
  ];
}

/** A word for bash, single-quoted: nothing in it is expanded. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The script `sbatch` runs for a run whose folder is `runDir` (absolute, the same path on the
 * nodes). The job exits with the failing step's exit code, so Slurm's records say it too.
 */
export function jobScript(
  runDir: string,
  steps: readonly JobStep[],
  /** The run's process limit: a pids cgroup's, under root (`pidsGroupLines`). */
  pids?: number
): string {
  const q = shellQuote;
  const lines = [
    '#!/bin/bash',
    '# A ReproServer run (backends/slurm/job-script.ts): each step in the sandbox, in turn.',
    'set -u',
    `cd ${q(runDir)} || exit 1`,
    // Shown in the job's own output file, for whoever reads it on the cluster.
    'echo "reproserver: job $SLURM_JOB_ID on $(hostname)"',
    ...(pids === undefined ? [] : pidsGroupLines(pids + JOB_OVERHEAD_PIDS))
  ];
  steps.forEach((step, position) => {
    const files = stepFiles(runDir, position);
    const env = Object.entries(step.command.env).map(([k, v]) =>
      q(`${k}=${v}`)
    );
    lines.push('', `# step ${position}`);
    if (step.emulation) {
      // The owners the package recorded, then what earlier steps reported (later records win).
      const reports = steps
        .slice(0, position)
        .map((_, earlier) => q(stepFiles(runDir, earlier).report));
      lines.push(
        `{ cat ${q(files.recordedOwners)}; for r in ${reports.join(' ') || '/dev/null'}; do head -c ${MAX_REPORT_BYTES_IN_JOB} "$r" 2>/dev/null; done; } > ${q(files.owners)}`
      );
    }
    lines.push(
      `date +%s%3N > ${q(files.start)}`,
      [
        // `--` before the assignments: after one, env takes `--` for the command. The command
        // itself is an absolute path (the sandbox's program), never taken for an assignment.
        'env -i --',
        ...env,
        ...step.command.argv.map(q),
        `< /dev/null > ${q(files.stdout)} 2> ${q(files.stderr)}`,
        ...(step.emulation ? [`3> ${q(files.report)}`] : [])
      ].join(' '),
      'code=$?',
      `echo $code > ${q(files.exit + '.new')} && mv -f ${q(files.exit + '.new')} ${q(files.exit)}`,
      '[ $code -eq 0 ] || exit $code'
    );
  });
  lines.push('exit 0', '');
  return lines.join('\n');
}
