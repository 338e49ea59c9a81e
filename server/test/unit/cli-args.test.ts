import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  lastValues,
  parseCommandArgs,
  UsageError,
  type CommandSpec
} from '../../src/cli/args';
import { inspectCommand } from '../../src/cli/inspect';
import { runCommand } from '../../src/cli/run';
import { serveCommand } from '../../src/cli/serve';
import { sweepCommand } from '../../src/cli/sweep';
import {
  INSPECT_USAGE,
  SPECS,
  RUN_SPEC,
  SERVE_SPEC,
  SWEEP_SPEC
} from '../../src/cli/usage';

const SPEC: CommandSpec = {
  name: 'test',
  usage: 'Usage: test',
  options: {
    out: { type: 'string' },
    arg: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    port: { type: 'string' }
  }
};

/** Captures what a command writes on process.stdout / process.stderr. */
async function captured(
  run: () => Promise<number>
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const spies = (['stdout', 'stderr'] as const).map(name =>
    jest
      .spyOn(process[name], 'write')
      .mockImplementation((chunk: string | Uint8Array) => {
        out[name] += String(chunk);
        return true;
      })
  );
  const log = jest.spyOn(console, 'log').mockImplementation((text: string) => {
    out.stdout += `${text}\n`;
  });
  const error = jest
    .spyOn(console, 'error')
    .mockImplementation((text: string) => {
      out.stderr += `${text}\n`;
    });
  try {
    return { code: await run(), ...out };
  } finally {
    [...spies, log, error].forEach(spy => spy.mockRestore());
  }
}

describe('parseCommandArgs', () => {
  it('splits positionals and flags in both spellings, keeping repeats', () => {
    const { positionals, flags, help } = parseCommandArgs(SPEC, [
      'run',
      'x.rpz',
      '--out',
      'dir',
      '--arg=0:1=5',
      '--arg',
      '0:2=6',
      '--json'
    ]);
    expect(positionals).toEqual(['run', 'x.rpz']);
    expect(flags).toEqual({
      out: ['dir'],
      arg: ['0:1=5', '0:2=6'],
      json: ['true']
    });
    expect(help).toBe(false);
    expect(lastValues(flags).arg).toBe('0:2=6');
  });

  it('keeps the last value of an option that may appear once', () => {
    expect(parseCommandArgs(SPEC, ['--out', 'a', '--out=b']).flags.out).toEqual(
      ['b']
    );
  });

  it('treats everything after -- as positional', () => {
    expect(parseCommandArgs(SPEC, ['--', '--not-a-flag']).positionals).toEqual([
      '--not-a-flag'
    ]);
  });

  it('takes a value that starts with a dash', () => {
    expect(parseCommandArgs(SPEC, ['--port', '-3']).flags.port).toEqual(['-3']);
  });

  it('says which option lacks its value', () => {
    expect(() => parseCommandArgs(SPEC, ['--port'])).toThrow(
      'The option --port needs a value.'
    );
  });

  it('names an unknown option, long or short', () => {
    expect(() => parseCommandArgs(SPEC, ['--frobnicate', 'x'])).toThrow(
      new UsageError('unknown option --frobnicate.')
    );
    expect(() => parseCommandArgs(SPEC, ['-x'])).toThrow('unknown option -x.');
  });

  it('refuses a value for a boolean flag', () => {
    expect(() => parseCommandArgs(SPEC, ['--json=yes'])).toThrow(
      'The option --json takes no value.'
    );
  });

  it('knows --help and -h for every command', () => {
    for (const spec of [SPEC, ...Object.values(SPECS)]) {
      expect(parseCommandArgs(spec, ['--help']).help).toBe(true);
      expect(parseCommandArgs(spec, ['x', '-h']).help).toBe(true);
    }
  });

  it('keeps repeats of run edits and every run flag', () => {
    const { flags } = parseCommandArgs(RUN_SPEC, [
      'x.rpz',
      '--out=o',
      '--cmdline',
      "0=echo 'hi'",
      '--arg',
      '0:1=a',
      '--arg',
      '0:2=b',
      '--env',
      '0:A=1',
      '--env',
      '0:B=2',
      '--unset-env',
      '0:C',
      '--unset-env',
      '0:D',
      '--input',
      'a=/x',
      '--input',
      'b=/y',
      '--allow-weak-isolation',
      '--docker-socket',
      '/d.sock'
    ]);
    expect(flags).toMatchObject({
      out: ['o'],
      cmdline: ["0=echo 'hi'"],
      arg: ['0:1=a', '0:2=b'],
      env: ['0:A=1', '0:B=2'],
      'unset-env': ['0:C', '0:D'],
      input: ['a=/x', 'b=/y'],
      'allow-weak-isolation': ['true'],
      'docker-socket': ['/d.sock']
    });
  });

  it('knows every option serve documents', () => {
    const documented = [...SERVE_SPEC.usage.matchAll(/\[--([a-z-]+)/g)].map(
      m => m[1]
    );
    expect(documented.length).toBeGreaterThan(10);
    for (const name of documented) {
      expect(SERVE_SPEC.options[name]).toBeDefined();
    }
  });

  it('knows every option sweep documents', () => {
    const documented = [...SWEEP_SPEC.usage.matchAll(/\[--([a-z-]+)/g)].map(
      m => m[1]
    );
    expect(documented.length).toBeGreaterThan(15);
    for (const name of documented) {
      expect(SWEEP_SPEC.options[name]).toBeDefined();
    }
  });
});

describe('the commands', () => {
  it.each([
    ['run', (args: string[]) => runCommand(args)],
    ['serve', (args: string[]) => serveCommand(args)],
    ['sweep', (args: string[]) => sweepCommand(args)]
  ])(
    '%s prints its usage with --help and refuses an unknown option',
    async (name, command) => {
      const help = await captured(() => command(['--help']));
      expect(help).toMatchObject({ code: 0, stderr: '' });
      expect(help.stdout).toContain(`Usage: reproserver ${name}`);
      const bad = await captured(() => command(['--frobnicate']));
      expect(bad.code).toBe(2);
      expect(bad.stdout).toBe('');
      expect(bad.stderr).toContain(
        `reproserver ${name}: unknown option --frobnicate.`
      );
      expect(bad.stderr).toContain(`Usage: reproserver ${name}`);
    }
  );

  it('inspect prints its usage with --help and -h', async () => {
    for (const flag of ['--help', '-h']) {
      let stdout = '';
      const io = {
        stdout: { write: (s: string) => ((stdout += s), true) },
        stderr: { write: () => true }
      };
      expect(await inspectCommand([flag], io)).toBe(0);
      expect(stdout).toBe(`${INSPECT_USAGE}\n`);
    }
  });
});

/** The compiled CLI, as users run it (main.ts answers --help before loading a command). */
const CLI = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

describe('reproserver (compiled)', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) {
      throw new Error(
        `${CLI} is missing: build the server first (npm run build:server).`
      );
    }
  });
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

  it.each([['--help'], ['help'], ['-h']])('%s prints the usage', flag => {
    const result = cli(flag);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: reproserver <command>');
  });

  it.each(Object.keys(SPECS))('%s --help prints its usage', name => {
    const result = cli(name, '--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`reproserver ${name}`);
    expect(result.stderr).toBe('');
  });

  it('help COMMAND prints the usage of that command', () => {
    const result = cli('help', 'run');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: reproserver run PACKAGE');
  });

  it('refuses an unknown option with exit code 2 and the usage on stderr', () => {
    const result = cli('inspect', 'x.rpz', '--frobnicate');
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `reproserver inspect: unknown option --frobnicate.\n${INSPECT_USAGE}\n`
    );
  });

  const EXAMPLE = join(
    __dirname,
    '..',
    '..',
    '..',
    'examples',
    'shell-pipeline.rpz'
  );

  let state: string;
  beforeAll(() => {
    state = mkdtempSync(join(tmpdir(), 'cli-state-'));
  });
  afterAll(() => rmSync(state, { recursive: true, force: true }));

  // inspect reads the package in its own process: the parsers' modules (YAML, SQLite) load then;
  // asked again about the same package, it answers from what it remembered and loads none.
  it.each([
    [['--version'], [], []],
    [['run', '--help'], [], []],
    [['sweep', '--help'], [], []],
    [['inspect', '--no-cache', EXAMPLE], ['inspect'], ['yaml', 'rpz/trace']],
    [['inspect', EXAMPLE], ['inspect'], ['yaml', 'rpz/trace']],
    [['inspect', EXAMPLE], ['inspect'], []]
  ])('%j loads only what it uses', async (args, commands, parsers) => {
    // The third case is the second inspect of EXAMPLE: the cache does not remember a package
    // changed in the last seconds (a fresh clone's, say), so it waits until EXAMPLE is older.
    const age = Date.now() - statSync(EXAMPLE).ctimeMs;
    if (age < 4000) {
      await new Promise(resolve => setTimeout(resolve, 4000 - age));
    }
    const result = spawnSync(
      process.execPath,
      [
        '-e',
        `process.argv = [process.argv[0], ${JSON.stringify(CLI)}, ...${JSON.stringify(args)}];
         process.on('exit', () => console.error(Object.keys(require.cache).join('\\n')));
         require(${JSON.stringify(CLI)});`
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, REPROSERVER_STATE_DIR: state }
      }
    );
    expect(result.status).toBe(0);
    const loaded = result.stderr.split('\n');
    expect(loaded.some(f => f.endsWith('cli/usage.js'))).toBe(true);
    for (const heavy of [
      'dockerode',
      'ws',
      'yaml',
      '@aws-sdk',
      'tar-stream'
    ].filter(name => !parsers.includes(name))) {
      expect(loaded.filter(f => f.includes(`node_modules/${heavy}/`))).toEqual(
        []
      );
    }
    // node:sqlite is built in (no file to see): the modules that use it must not load, but for
    // the package reader's when the command reads a package itself.
    expect(
      loaded
        .filter(f => /(rpz\/trace|store\/database)\.js$/.test(f))
        .filter(f => !parsers.some(name => f.endsWith(`${name}.js`)))
    ).toEqual([]);
    // The package reader behind inspect loads only when a package is read.
    expect(loaded.some(f => f.endsWith('cli/inspect-read.js'))).toBe(
      parsers.length > 0
    );
    expect(
      loaded
        .map(f => /cli\/(build|inspect|run|serve|sweep)\.js$/.exec(f)?.[1])
        .filter(name => name !== undefined)
    ).toEqual(commands);
  });
});

// V8's compiled code of the command's modules is kept between runs, in a private folder only.
describe('the compile cache', () => {
  const EXAMPLE = join(
    __dirname,
    '..',
    '..',
    '..',
    'examples',
    'shell-pipeline.rpz'
  );
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'cli-compile-cache-'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  const inspect = (extraEnv: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [CLI, 'inspect', '--no-cache', EXAMPLE], {
      encoding: 'utf8',
      env: { ...process.env, REPROSERVER_CACHE_DIR: base, ...extraEnv }
    });
  /** The files Node wrote in the cache folder (it keeps them under a folder per Node version). */
  const cached = (): string[] =>
    existsSync(join(base, 'compile'))
      ? readdirSync(join(base, 'compile'), { recursive: true }).map(String)
      : [];

  it('keeps the compiled modules of a command, in a folder closed to others', () => {
    expect(inspect().status).toBe(0);
    expect(statSync(join(base, 'compile')).mode & 0o777).toBe(0o700);
    expect(cached().length).toBeGreaterThan(1);
    // The second run reads them and answers the same.
    const again = inspect();
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('sha256 ');
  });

  it('does not use a folder that others can write to', () => {
    mkdirSync(join(base, 'compile'), { mode: 0o700 });
    chmodSync(join(base, 'compile'), 0o777);
    expect(inspect().status).toBe(0);
    expect(cached()).toEqual([]);
  });

  it('is off with NODE_DISABLE_COMPILE_CACHE', () => {
    expect(inspect({ NODE_DISABLE_COMPILE_CACHE: '1' }).status).toBe(0);
    expect(cached()).toEqual([]);
  });
});
