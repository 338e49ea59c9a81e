import { inspectCommand, shellQuote } from '../../../src/cli/inspect';
import { tempFolder, writeRpz } from '../../helpers/synthetic-rpz';

let folder: ReturnType<typeof tempFolder>;
beforeEach(() => {
  folder = tempFolder();
});
afterEach(() => folder.cleanup());

function capture(): {
  io: {
    stdout: { write(s: string): boolean };
    stderr: { write(s: string): boolean };
  };
  out: () => string;
  err: () => string;
} {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (s: string) => ((out += s), true) },
      stderr: { write: (s: string) => ((err += s), true) }
    },
    out: () => out,
    err: () => err
  };
}

describe('reproserver inspect', () => {
  it('prints the model as JSON with --json', async () => {
    const path = await writeRpz(folder, 'p.rpz', { layout: 'v2-gzip' });
    const c = capture();
    expect(await inspectCommand([path, '--json'], c.io)).toBe(0);
    const json = JSON.parse(c.out()) as Record<string, unknown>;
    expect(json).toMatchObject({
      format: 2,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      runs: [
        {
          id: 'main',
          argv: ['python3', 'script.py', '--n', '5', 'in.txt'],
          binary: '/usr/bin/python3',
          workingdir: '/home/ana',
          environ: { HOME: '/home/ana', PATH: '/usr/bin:/bin' },
          uid: 1000,
          gid: 1000
        }
      ],
      files: [
        {
          name: 'in.txt',
          path: '/home/ana/in.txt',
          readBy: [0],
          writtenBy: []
        },
        {
          name: 'out.txt',
          path: '/home/ana/out.txt',
          readBy: [],
          writtenBy: [0]
        }
      ]
    });
    expect(c.err()).toBe('');
  });

  it('prints a human summary', async () => {
    const path = await writeRpz(folder, 'p.rpz', { layout: 'v1' });
    const c = capture();
    expect(await inspectCommand([path], c.io)).toBe(0);
    const text = c.out();
    expect(text).toContain(
      'Format:       ReproZip package version 1 (gzip tar, config 0.8)'
    );
    expect(text).toContain('Distribution: ubuntu 22.04 (x86_64)');
    expect(text).toContain(
      '  0 main: python3 script.py --n 5 in.txt\n      in /home/ana as uid 1000, gid 1000; exit code 0'
    );
    expect(text).toContain(
      'Inputs (1):\n  in.txt: /home/ana/in.txt (read by run 0 (main))'
    );
    expect(text).toContain(
      'Outputs (1):\n  out.txt: /home/ana/out.txt (written by run 0 (main))'
    );
    expect(text).toContain('Warnings (0):');
  });

  it('fails with one sentence on stderr for a bad package, and with usage for bad arguments', async () => {
    const path = await writeRpz(folder, 'x.rpz', { version: null });
    const c = capture();
    expect(await inspectCommand([path], c.io)).toBe(1);
    expect(c.err()).toBe(
      'Not a ReproZip package: METADATA/version is missing (x.rpz)\n'
    );
    expect(c.out()).toBe('');
    const missing = capture();
    expect(
      await inspectCommand([`${folder.dir}/nope.rpz`, '--json'], missing.io)
    ).toBe(1);
    expect(missing.err()).toBe(
      'Cannot read the package: the file does not exist (nope.rpz)\n'
    );
    const usage = capture();
    expect(await inspectCommand([], usage.io)).toBe(2);
    expect(usage.err()).toContain(
      'Usage: reproserver inspect PACKAGE [--json] [--no-cache]'
    );
    expect(await inspectCommand(['a', '--bogus'], usage.io)).toBe(2);
  });

  it('quotes argv items for display', () => {
    expect(
      [
        'sh',
        '-c',
        "echo 'hi' > out",
        'plain/path.txt',
        '',
        'données.txt',
        'a b',
        '$HOME'
      ].map(shellQuote)
    ).toEqual([
      'sh',
      '-c',
      `'echo '\\''hi'\\'' > out'`,
      'plain/path.txt',
      "''",
      'données.txt',
      "'a b'",
      "'$HOME'"
    ]);
  });
});
