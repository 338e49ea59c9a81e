/**
 * The spawner (`spawner.ts`): a real spawner process starting real programs. What it must never
 * do is lose a byte, a pipe or an ending, whatever the timing: a child that writes at once, many
 * children ending while their pipes are still being handed over, the spawner itself dying.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  Spawner,
  spawnFar,
  type FarChild
} from '../../../../src/backends/sandbox/spawner';
import { childScript } from '../../../../src/child-script';
import { parentOf, processesWhere, running } from '../../../helpers/processes';

jest.setTimeout(60_000);

/** Everything a child said on its pipes, and how it ended (whether or not it ended already). */
async function finished(child: FarChild): Promise<{
  stdout: string;
  stderr: string;
  code: number | null;
  signal: string | null;
}> {
  const read = (index: number): Promise<string> =>
    new Promise(resolve => {
      const pipe = child.stdio[index];
      if (!pipe) {
        resolve('');
        return;
      }
      const chunks: Buffer[] = [];
      pipe.on('data', (chunk: Buffer) => chunks.push(chunk));
      pipe.once('end', () => resolve(Buffer.concat(chunks).toString()));
      if (pipe.readableEnded) {
        resolve('');
      }
    });
  const [stdout, stderr, [code, signal]] = await Promise.all([
    read(1),
    read(2),
    new Promise<[number | null, string | null]>(resolve => {
      if (child.exitCode !== null || child.signalCode !== null) {
        resolve([child.exitCode, child.signalCode]);
      }
      child.once('exit', (c: number | null, s: string | null) =>
        resolve([c, s])
      );
    })
  ]);
  return { stdout, stderr, code, signal };
}

const PIPES = { stdio: ['ignore', 'pipe', 'pipe'] as const, env: {} };

/** The spawner processes this process started that still run (their command line names `script`). */
function spawnerPids(script = 'spawner-process'): number[] {
  return processesWhere(cmdline => cmdline.includes(script), process.pid);
}

describe('spawnFar', () => {
  it('hands over every byte of a child that writes at once, then its exit code', async () => {
    const child = await spawnFar(
      '/bin/sh',
      ['-c', 'head -c 3000000 /dev/zero; head -c 200000 /dev/zero >&2; exit 3'],
      { ...PIPES, stdio: [...PIPES.stdio] }
    );
    const result = await finished(child);
    expect(result.stdout.length).toBe(3_000_000);
    expect(result.stderr.length).toBe(200_000);
    expect({ code: result.code, signal: result.signal }).toEqual({
      code: 3,
      signal: null
    });
    expect(child.exitCode).toBe(3);
  });

  it('gives the child no input', async () => {
    const child = await spawnFar('/bin/cat', [], {
      ...PIPES,
      stdio: [...PIPES.stdio]
    });
    expect(await finished(child)).toEqual({
      stdout: '',
      stderr: '',
      code: 0,
      signal: null
    });
  });

  it('loses nothing when many children end while their pipes are still on the way', async () => {
    // Pipes are handed over one at a time: most of these children have ended before theirs go.
    const children = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        spawnFar(
          '/bin/sh',
          ['-c', `echo out ${i}; echo err ${i} >&2; exit ${i % 7}`],
          { ...PIPES, stdio: [...PIPES.stdio], detached: true }
        )
      )
    );
    const results = await Promise.all(children.map(finished));
    results.forEach((result, i) =>
      expect(result).toEqual({
        stdout: `out ${i}\n`,
        stderr: `err ${i}\n`,
        code: i % 7,
        signal: null
      })
    );
  });

  it('gives the environment asked for, and nothing else', async () => {
    const child = await spawnFar('/usr/bin/env', [], {
      ...PIPES,
      stdio: [...PIPES.stdio],
      env: { ONLY: 'this' }
    });
    expect((await finished(child)).stdout).toBe('ONLY=this\n');
  });

  it('says which program could not start', async () => {
    await expect(
      spawnFar('/no/such/program', [], { ...PIPES, stdio: [...PIPES.stdio] })
    ).rejects.toThrow('Cannot start /no/such/program');
  });

  it('kills what it started when the spawner dies, and starts a new spawner', async () => {
    const child = await spawnFar('/bin/sleep', ['60'], {
      ...PIPES,
      stdio: [...PIPES.stdio],
      detached: true
    });
    // The spawner that started it (spawners of earlier test files may still idle in this process).
    const spawner = parentOf(child.pid);
    expect(spawnerPids()).toContain(spawner);
    const ended = finished(child);
    process.kill(spawner, 'SIGKILL');
    expect(await ended).toMatchObject({ code: null, signal: 'SIGKILL' });
    // The sleep is gone too (at most a zombie, until init reaps it): nothing runs unobserved.
    await new Promise(resolve => setTimeout(resolve, 100));
    expect(running(child.pid)).toBe(false);
    const next = await spawnFar('/bin/echo', ['again'], {
      ...PIPES,
      stdio: [...PIPES.stdio]
    });
    expect((await finished(next)).stdout).toBe('again\n');
  });

  it('ends, with what it started, when the server dies while a pipe is on its way', async () => {
    // A server that asks for a child and dies as soon as it is told the child started: the
    // child's pipes are then still on their way, and no receipt for them will ever come.
    const script = childScript(
      join(__dirname, '../../../../src/backends/sandbox'),
      'spawner-process'
    );
    const server = `
      const { fork } = require('node:child_process');
      const spawner = fork(${JSON.stringify(script)}, [], {
        env: {},
        stdio: ['pipe', 'ignore', 'inherit', 'ipc']
      });
      spawner.send({ id: 1, file: '/bin/sleep', args: ['60'], env: {},
        stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      spawner.on('message', message => {
        if (message.kind === 'spawned') {
          process.stdout.write(JSON.stringify([spawner.pid, message.pid]),
            () => process.kill(process.pid, 'SIGKILL'));
        }
      });`;
    const died = spawnSync(process.execPath, ['-e', server], {
      encoding: 'utf8',
      timeout: 20_000
    });
    expect(died.signal).toBe('SIGKILL');
    const [spawner, sleep] = JSON.parse(died.stdout) as [number, number];
    for (let i = 0; i < 100 && (running(spawner) || running(sleep)); i++) {
      await new Promise(resolve => setTimeout(resolve, 20));
    }
    expect({ spawner: running(spawner), sleep: running(sleep) }).toEqual({
      spawner: false,
      sleep: false
    });
  });

  it('gives up on a spawner that does not answer, and kills it', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'reproserver-spawner-'));
    try {
      // A spawner that takes every request and answers none.
      const script = join(folder, 'wedged.js');
      writeFileSync(script, "process.on('message', () => undefined);\n");
      const wedged = new Spawner({ script, timeoutMs: 300 });
      await expect(
        wedged.spawn('/bin/true', [], { ...PIPES, stdio: [...PIPES.stdio] })
      ).rejects.toThrow(
        'The sandbox spawner did not start /bin/true within 0.3 s; it was restarted.'
      );
      for (let i = 0; i < 50 && spawnerPids(script).length > 0; i++) {
        await new Promise(resolve => setTimeout(resolve, 20));
      }
      expect(spawnerPids(script)).toEqual([]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
