/**
 * `reproserver fetch`: the real command (compiled), fetching from the local HTTPS server that
 * stands in for the DOI resolver and the data repositories (`helpers/import-server.ts`).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startImportServer,
  type ImportServer
} from '../../helpers/import-server';
import { CLI } from '../../helpers/server-process';

jest.setTimeout(60_000);

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('reproserver fetch', () => {
  let remote: ImportServer;
  let folder: string;

  beforeAll(async () => {
    remote = await startImportServer();
    folder = mkdtempSync(join(tmpdir(), 'reproserver-fetch-'));
  });

  afterAll(async () => {
    await remote?.close();
  });

  /** Runs the command; the test server answers in this process, so the command runs beside it. */
  function fetch(args: string[], env: Record<string, string> = {}) {
    return new Promise<Result>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'fetch', ...args], {
        cwd: folder,
        env: { ...process.env, ...remote.env(), ...env },
        stdio: ['ignore', 'pipe', 'pipe']
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', reject);
      child.once('close', code => resolve({ code, stdout, stderr }));
    });
  }

  const sha256Of = (path: string) =>
    createHash('sha256').update(readFileSync(path)).digest('hex');

  it('downloads a package from a DOI into the folder given and prints its path and sha256', async () => {
    const expected = remote.package('shell-pipeline');
    const result = await fetch(['10.5281/zenodo.1001', '--to', 'from-doi']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const path = join(folder, 'from-doi', 'shell-pipeline.rpz');
    expect(result.stdout.split('\n')[0]).toBe(path);
    expect(result.stdout).toContain(`sha256 ${expected.sha256}`);
    expect(sha256Of(path)).toBe(expected.sha256);
    expect(readdirSync(join(folder, 'from-doi'))).toEqual([
      'shell-pipeline.rpz'
    ]);
  });

  it('lists the packages of a record with several, and takes the one given by --file', async () => {
    const listed = await fetch([`${remote.base}/zenodo/records/1002`]);
    expect(listed.code).toBe(3);
    expect(listed.stderr).toMatch(/holds 2 packages; choose one with --file/);
    expect(listed.stderr).toMatch(/^ {2}two-steps\.rpz {2}\(1\.\d MiB\)$/m);
    expect(listed.stderr).toMatch(/^ {2}slow-printer\.rpz/m);
    const chosen = await fetch([
      `${remote.base}/zenodo/records/1002`,
      '--file',
      'two-steps.rpz',
      '--to',
      'chosen',
      '--json'
    ]);
    expect(chosen.code).toBe(0);
    expect(JSON.parse(chosen.stdout)).toEqual({
      path: join(folder, 'chosen', 'two-steps.rpz'),
      name: 'two-steps.rpz',
      sha256: remote.package('two-steps').sha256,
      size: remote.package('two-steps').size,
      reused: false
    });
  });

  it('writes no second copy of a package the folder already has, whatever its name', async () => {
    const source = `${remote.base}/redirect/2/links.rpz`;
    expect((await fetch([source, '--to', 'twice'])).code).toBe(0);
    renameSync(
      join(folder, 'twice', 'links.rpz'),
      join(folder, 'twice', 'mine.rpz')
    );
    const again = await fetch([source, '--to', 'twice', '--json']);
    expect(again.code).toBe(0);
    const mine = join(folder, 'twice', 'mine.rpz');
    expect(again.stderr).toBe(
      `reproserver fetch: ${mine} already holds this package (same sha256); nothing was written.\n`
    );
    expect(JSON.parse(again.stdout)).toMatchObject({
      path: mine,
      sha256: remote.package('links').sha256,
      reused: true
    });
    expect(readdirSync(join(folder, 'twice'))).toEqual(['mine.rpz']);
  });

  it('never replaces another file of the same name: the download gets another name', async () => {
    mkdirSync(join(folder, 'occupied'));
    writeFileSync(join(folder, 'occupied', 'links.rpz'), 'not a package');
    const result = await fetch([
      `${remote.base}/redirect/2/links.rpz`,
      '--to',
      'occupied'
    ]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(readdirSync(join(folder, 'occupied')).sort()).toEqual([
      'links-1.rpz',
      'links.rpz'
    ]);
    expect(readFileSync(join(folder, 'occupied', 'links.rpz'), 'utf8')).toBe(
      'not a package'
    );
  });

  it('says in one sentence why it failed, with exit code 1, and leaves nothing behind', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['doi:10.5281/zenodo.1003'],
        /no ReproZip package \(\.rpz\).*\(no-package-in-record\)$/
      ],
      [['10.5281/zenodo.999999'], /does not exist.*\(unknown-doi\)$/],
      [
        [`${remote.base}/zenodo/records/1004`],
        /is not a ReproZip package.*\(bad-package\)$/
      ],
      [[`${remote.untrustedBase}/files/links.rpz`], /\(tls-error\)$/],
      [
        [`${remote.base}/files/links.rpz`],
        /over the 1\.0 MiB limit.*\(too-large\)$/
      ]
    ];
    for (const [args, sentence] of cases) {
      const result = await fetch([...args, '--to', 'failures'], {
        REPROSERVER_MAX_UPLOAD_MIB: '1'
      });
      expect({ args, code: result.code }).toEqual({ args, code: 1 });
      expect(result.stderr.trim()).toMatch(/^reproserver fetch: /);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(sentence);
    }
    expect(readdirSync(join(folder, 'failures'))).toEqual([]);
  });

  it('refuses a source it cannot fetch, and answers --help, with exit code 2 and 0', async () => {
    const refused = await fetch(['http://example.org/x.rpz']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/Only https:\/\/ URLs are fetched/);
    const help = await fetch(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: reproserver fetch URL\|DOI/);
    const none = await fetch([]);
    expect(none.code).toBe(2);
  });

  it('shows a progress line on a terminal', async () => {
    // `script` (bsdutils, always on Debian) gives the command a terminal; the slow server sends
    // the package in 16 parts, 60 ms apart.
    const command = [
      process.execPath,
      CLI,
      'fetch',
      `${remote.base}/slow/slow-printer.rpz`,
      '--to',
      'tty'
    ]
      .map(word => `'${word}'`)
      .join(' ');
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], {
        cwd: folder,
        env: { ...process.env, ...remote.env() },
        stdio: ['ignore', 'pipe', 'pipe']
      });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.once('error', reject);
      child.once('close', code =>
        code === 0 ? resolve(text) : reject(new Error(`exit ${code}: ${text}`))
      );
    });
    const lines = output.split('\r\u001b[K').slice(1);
    expect(lines.length).toBeGreaterThan(1);
    expect(lines[0]).toMatch(/^\d+(\.\d)? (KiB|MiB) of 1\.\d MiB/);
    expect(lines.some(line => /MiB\/s|KiB\/s/.test(line))).toBe(true);
    expect(lines.some(line => / s left/.test(line))).toBe(true);
    expect(output).toContain(join(folder, 'tty', 'slow-printer.rpz'));
  });
});
