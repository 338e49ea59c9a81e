/**
 * What only the Slurm backend does (the behaviour table covers the rest): a job stopped by the
 * cluster ends the run with Slurm's own words (cancelled there, killed at its time limit), and a
 * server killed while a job runs re-attaches to it by its id after a restart. The real one-node
 * cluster of `scripts/services/slurm.sh`; the three run at once to keep the file short.
 */
import { execFileSync } from 'node:child_process';
import type { RunEventMessage, RunRecord } from '../../../src/contract/wire';
import { parseScontrolJob } from '../../../src/backends/slurm/job-state';
import { ApiClient } from '../../helpers/api-client';
import { example } from '../../helpers/examples';
import { startServer } from '../../helpers/server-process';
import {
  heldBackSbatch,
  leftSlurmRuns,
  runPackageOnSlurm,
  slurmShared,
  slurmTestShared
} from '../../helpers/slurm-run';
import { makeWorkspace } from '../api/workspace';

jest.setTimeout(120_000);

const scontrol = (...args: string[]): string =>
  // `show job -o` lists every job the controller keeps (a day's, ~1.5 KB each).
  execFileSync('scontrol', args, {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024
  });

beforeAll(() => {
  slurmShared();
});

afterAll(() => {
  expect(leftSlurmRuns()).toEqual([]);
});

/** Starts slow-printer on Slurm through the API (`sh slow.sh N`: a line a second); its run id. */
async function slowRun(api: ApiClient, ticks: number): Promise<string> {
  const slow = (
    await api.call<{ sha256: string }>('POST', '/api/packages', {
      path: 'packages/slow-printer.rpz'
    })
  ).body;
  const created = await api.call<RunRecord>('POST', '/api/runs', {
    package: slow.sha256,
    backend: 'slurm',
    edits: {
      stepEdits: [{ step: 0, args: [{ index: 2, value: String(ticks) }] }]
    }
  });
  expect(created.status).toBe(202);
  return created.body.id;
}

/** A server on `first`'s state and token, as after a restart. */
async function restarted(
  first: ApiClient,
  env: Record<string, string>
): Promise<ApiClient> {
  return new ApiClient(
    await startServer(env, {
      stateDir: first.server.stateDir,
      token: first.server.token
    })
  );
}

/** What slow-printer prints for N. */
const counting = (ticks: number): string =>
  [
    `counting to ${ticks}`,
    ...Array.from({ length: ticks }, (_, i) => `tick ${i + 1}/${ticks}`),
    'done'
  ].join('\n') + '\n';

/** The text of a run's log events. */
const logText = (messages: RunEventMessage[]): string =>
  messages
    .filter(m => m.event.type === 'log')
    .map(m => (m.event as { text: string }).text)
    .join('');

it.concurrent(
  'ends a job cancelled on the cluster as cancelled, in Slurm’s words',
  async () => {
    let jobId = '';
    const run = await runPackageOnSlurm(
      example('slow-printer').rpz,
      {},
      {
        onJob: id => (jobId = id),
        onEvent: event => {
          if (event.type === 'log' && jobId) {
            execFileSync('scancel', [jobId]);
            jobId = '';
          }
        }
      }
    );
    expect(run.result).toMatchObject({
      status: 'cancelled',
      failedStep: 0,
      reason: expect.stringMatching(
        /^The run was cancelled on the cluster \(Slurm job \d+ ended CANCELLED/
      )
    });
  }
);

it.concurrent(
  'ends a job Slurm killed at its time limit as timed-out',
  async () => {
    let jobId = '';
    let printed = '';
    const run = await runPackageOnSlurm(
      example('slow-printer').rpz,
      {
        stepEdits: [{ step: 0, args: [{ index: 2, value: '100' }] }],
        limits: { timeoutSeconds: 300 }
      },
      {
        onJob: id => (jobId = id),
        onEvent: event => {
          if (event.type === 'log') {
            printed += event.text;
          }
          // Once it printed its first tick (then the log must keep it): what an administrator
          // may do, the job's limit lowered to nothing left.
          if (printed.includes('tick 1/100\n') && jobId) {
            scontrol('update', `JobId=${jobId}`, 'TimeLimit=0');
            jobId = '';
          }
        }
      }
    );
    expect(run.result).toMatchObject({
      status: 'timed-out',
      failedStep: 0,
      reason: expect.stringMatching(
        /\(Slurm job \d+ ended TIMEOUT, reason TimeLimit\)\.$/
      )
    });
    // What it printed until then is in the log.
    expect(run.stdout).toMatch(/^counting to 100\ntick 1\/100\n/);
  }
);

it.concurrent(
  're-attaches to its job after the server is killed and restarted',
  async () => {
    const { root } = makeWorkspace();
    const env = {
      REPROSERVER_WORKSPACE: root,
      REPROSERVER_SLURM_SHARED: slurmTestShared()
    };
    const first = new ApiClient(await startServer(env));
    const id = await slowRun(first, 6);
    const seen: RunEventMessage[] = [];
    await first.follow(id, 0, (message, socket) => {
      seen.push(message);
      if (
        message.event.type === 'log' &&
        (message.event as { text: string }).text.includes('tick 2/')
      ) {
        socket.close();
      }
    });
    await first.server.stop('SIGKILL');
    // The job goes on without a server.
    const jobs = scontrol('show', 'job', '-o')
      .split('\n')
      .filter(line => line.includes(`JobName=reproserver-${id} `));
    expect(jobs.map(line => parseScontrolJob(line)?.state)).toEqual([
      'RUNNING'
    ]);
    const second = await restarted(first, env);
    try {
      const events = await second.follow(id, 0);
      expect(events.messages.slice(0, seen.length)).toEqual(seen);
      expect(logText(events.messages)).toBe(counting(6));
      const run = (await second.call<RunRecord>('GET', `/api/runs/${id}`)).body;
      expect(run).toMatchObject({ status: 'succeeded', backend: 'slurm' });
      expect(run.outputs.map(o => o.name)).toEqual(['ticks.txt']);
    } finally {
      await second.server.stop();
    }
  }
);

it.concurrent(
  'starts afresh a run whose sbatch answer was lost with the server, its first job stopped',
  async () => {
    const { root } = makeWorkspace();
    const env = {
      REPROSERVER_WORKSPACE: root,
      REPROSERVER_SLURM_SHARED: slurmTestShared()
    };
    const first = new ApiClient(
      await startServer({
        ...env,
        PATH: `${heldBackSbatch()}:${process.env.PATH}`
      })
    );
    const id = await slowRun(first, 6);
    const jobsOfRun = (): string[] =>
      scontrol('show', 'job', '-o')
        .split('\n')
        .filter(line => line.includes(`JobName=reproserver-${id} `));
    const deadline = Date.now() + 30_000;
    while (jobsOfRun().length === 0) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise(resolve => setTimeout(resolve, 200));
    }
    // Its job runs, and the server never had its id.
    await first.server.stop('SIGKILL');
    const second = await restarted(first, env);
    try {
      const events = await second.follow(id, 0);
      expect(logText(events.messages)).toBe(counting(6));
      const run = (await second.call<RunRecord>('GET', `/api/runs/${id}`)).body;
      expect(run).toMatchObject({ status: 'succeeded', backend: 'slurm' });
      // Two jobs, one after the other: the first stopped before the second was submitted.
      const jobs = jobsOfRun().map(line => ({
        id: Number(/JobId=(\d+)/.exec(line)![1]),
        state: parseScontrolJob(line)?.state,
        submitted: /SubmitTime=(\S+)/.exec(line)![1],
        ended: /EndTime=(\S+)/.exec(line)![1]
      }));
      jobs.sort((a, b) => a.id - b.id);
      expect(jobs.map(job => job.state)).toEqual(['CANCELLED', 'COMPLETED']);
      expect(jobs[0].ended <= jobs[1].submitted).toBe(true);
    } finally {
      await second.server.stop();
    }
  }
);
