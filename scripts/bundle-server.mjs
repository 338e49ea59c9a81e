/**
 * Bundles the compiled companion server (server/dist, from `npm run build:server`) into
 * jupyterlab_reproserver/server/, which the Python wheel ships, so that `pip install` gives a
 * server that needs nothing but Node.js:
 *
 *   package.json                    name and version (the server reads ../package.json from bin/),
 *                                   and the Node.js versions it runs on (engines)
 *   bin/reproserver.js              the command line's entry: checks Node.js, then loads the rest
 *                                   through V8's code cache (server/src/cli/code-cache-loader.ts)
 *   bin/reproserver-main.js         the command line: `--version`, `--help`, option checks
 *   bin/reproserver-COMMAND.js      each command (build, fetch, inspect, run, serve…) with all its JavaScript
 *                                   dependencies, one CommonJS file each, loaded only when that
 *                                   command runs: one file for all would be parsed at every start
 *                                   (`reproserver --version` took 2.5× longer)
 *   bin/reproserver-inspect-read.js the package reader behind `inspect`, loaded only when a package
 *                                   is read (a remembered one is answered without it)
 *   bin/reproserver-yaml.js         the `yaml` library, loaded only for a config not of the form
 *                                   reprozip writes (server/src/rpz/reprozip-yaml.ts reads those)
 *   bin/spawner-process.js          the process that starts the sandbox's processes for the server
 *                                   (backends/sandbox/spawner.ts; it looks for it beside its code)
 *   bin/reader-process.js           the package reader the server runs in child processes (it looks
 *                                   for it beside its own code)
 *   helpers/rpz-exec                the static helper run inside sandboxes and containers
 *
 * No native module: SQLite is Node's built-in node:sqlite, so the bundle runs on any Node.js that
 * the engines field allows, whichever built it.
 *
 * The folder is generated (ignored by git) and rebuilt from scratch each time.
 * Usage: node scripts/bundle-server.mjs
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER = join(ROOT, 'server');
const OUT = join(ROOT, 'jupyterlab_reproserver', 'server');
const BUNDLE = join(OUT, 'bin', 'reproserver.js');
const DIST = join(SERVER, 'dist');
const CLI = join(DIST, 'cli');
/**
 * Every module of dist that another loads on demand (`require` inside a function), by the module
 * that loads it (paths relative to dist): each becomes a file of its own beside the entry, parsed
 * only when loaded. The commands are main.ts's, named once in server/src/cli/command-names.ts.
 */
function apartModules() {
  const { COMMAND_NAMES } = createRequire(import.meta.url)(
    join(CLI, 'command-names.js')
  );
  return [
    { importer: null, module: 'cli/main', file: 'reproserver-main.js' },
    ...COMMAND_NAMES.map(command => ({
      importer: 'cli/main.js',
      module: `cli/${command}`,
      file: `reproserver-${command}.js`
    })),
    {
      importer: 'cli/inspect.js',
      module: 'cli/inspect-read',
      file: 'reproserver-inspect-read.js'
    },
    {
      // The `yaml` library, for configs not of the form reprozip writes (rpz/reprozip-yaml.ts).
      importer: 'rpz/config.js',
      module: 'rpz/yaml-general',
      file: 'reproserver-yaml.js'
    }
  ];
}
const READER = join(OUT, 'bin', 'reader-process.js');
const SPAWNER = join(OUT, 'bin', 'spawner-process.js');

/**
 * Left to `require` at run time: optional native add-ons their users load inside try/catch (ssh2,
 * via dockerode) and do without. (Node's built-ins, node:sqlite among them, are external anyway.)
 */
const EXTERNAL = ['cpu-features', '*.node'];

function fail(message) {
  console.error(`bundle-server: ${message}`);
  process.exit(1);
}

function checkInputs() {
  for (const file of [
    'dist/cli/main.js',
    'dist/rpz/worker/reader-process.js',
    'dist/backends/sandbox/spawner-process.js',
    'dist/helpers/rpz-exec'
  ]) {
    if (!existsSync(join(SERVER, file))) {
      fail(`server/${file} is missing: run "npm run build:server" first.`);
    }
  }
}

/** The oldest Node.js the server runs on, from server/package.json's `engines.node` (">=X.Y"). */
function minimumNode() {
  const { engines } = JSON.parse(
    readFileSync(join(SERVER, 'package.json'), 'utf8')
  );
  const match = /^>=(\d+)\.(\d+)$/.exec(engines?.node ?? '');
  if (!match) {
    fail(
      `server/package.json: engines.node should read ">=MAJOR.MINOR", not "${engines?.node}".`
    );
  }
  return [Number(match[1]), Number(match[2])];
}

/** This Node.js must be one the bundle runs on: the smoke test below runs the bundle in it. */
function checkNode() {
  const [major, minor] = minimumNode();
  const [a, b] = process.versions.node.split('.').map(Number);
  if (a < major || (a === major && b < minor)) {
    fail(
      `Node.js ${process.version} is too old: the server needs ${major}.${minor} or newer (node:sqlite).`
    );
  }
}

/**
 * Keeps the modules of `apart` out of their importer's bundle: main.js's `require('./inspect')`
 * becomes `require('./reproserver-inspect.js')`, the command's own bundle beside it.
 */
const modulesApart = apart => ({
  name: 'modules-apart',
  setup(build) {
    build.onResolve({ filter: /^\.\/[\w-]+$/ }, args => {
      const found = apart.find(
        a =>
          a.importer !== null &&
          args.importer === join(DIST, a.importer) &&
          join(dirname(args.importer), args.path) === join(DIST, a.module)
      );
      return found ? { path: `./${found.file}`, external: true } : undefined;
    });
  }
});

async function bundle() {
  const apart = apartModules();
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    external: EXTERNAL,
    // Readable code keeps stack traces from users meaningful; the wheel compresses it anyway.
    minify: false,
    legalComments: 'eof',
    logLevel: 'warning'
  };
  await build({
    ...common,
    entryPoints: [join(ROOT, 'scripts', 'bundle-server-entry.cjs')],
    outfile: BUNDLE,
    banner: { js: '#!/usr/bin/env node' },
    plugins: [modulesApart(apart)]
  });
  chmodSync(BUNDLE, 0o755);
  for (const { module, file } of apart) {
    await build({
      ...common,
      entryPoints: [join(DIST, `${module}.js`)],
      outfile: join(OUT, 'bin', file),
      plugins: [modulesApart(apart)]
    });
  }
  // The package reader runs in child processes started from this file (rpz/worker/).
  await build({
    ...common,
    entryPoints: [join(SERVER, 'dist', 'rpz', 'worker', 'reader-process.js')],
    outfile: READER
  });
  // So does the sandbox's spawner (backends/sandbox/spawner.ts).
  await build({
    ...common,
    entryPoints: [
      join(SERVER, 'dist', 'backends', 'sandbox', 'spawner-process.js')
    ],
    outfile: SPAWNER
  });
}

function writePackageJson() {
  const server = JSON.parse(readFileSync(join(SERVER, 'package.json'), 'utf8'));
  const manifest = {
    name: server.name,
    version: server.version,
    description: `${server.description} Bundled for the jupyterlab-reproserver Python package.`,
    license: server.license,
    private: true,
    bin: { reproserver: 'bin/reproserver.js' },
    // Read by the entry point, which refuses an older Node.js with a clear message.
    engines: server.engines
  };
  writeFileSync(
    join(OUT, 'package.json'),
    `${JSON.stringify(manifest, null, 2)}\n`
  );
}

function copyRuntimeFiles() {
  mkdirSync(join(OUT, 'helpers'), { recursive: true });
  copyFileSync(
    join(SERVER, 'dist', 'helpers', 'rpz-exec'),
    join(OUT, 'helpers', 'rpz-exec')
  );
  chmodSync(join(OUT, 'helpers', 'rpz-exec'), 0o755);
}

/**
 * The bundle must run from its own folder alone: ask it its version, from elsewhere, and have it
 * read an example package (which starts a reader process from bin/reader-process.js).
 */
function smokeTest() {
  const env = { ...process.env };
  delete env.REPROSERVER_HELPER;
  delete env.REPROSERVER_READER_SCRIPT;
  const version = execFileSync(process.execPath, [BUNDLE, '--version'], {
    cwd: '/',
    env,
    encoding: 'utf8'
  }).trim();
  const expected = JSON.parse(
    readFileSync(join(SERVER, 'package.json'), 'utf8')
  ).version;
  if (version !== expected) {
    fail(`the bundle says version "${version}", expected "${expected}".`);
  }
  const example = join(ROOT, 'examples', 'shell-pipeline.rpz');
  const scratch = mkdtempSync(join(tmpdir(), 'bundle-smoke-'));
  try {
    const read = (path = example) =>
      JSON.parse(
        execFileSync(
          process.execPath,
          [BUNDLE, 'inspect', '--no-cache', path, '--json'],
          {
            cwd: '/',
            env: {
              ...env,
              REPROSERVER_STATE_DIR: join(scratch, 'state'),
              REPROSERVER_CACHE_DIR: join(scratch, 'cache')
            },
            encoding: 'utf8'
          }
        )
      );
    const model = read();
    if (model.format !== 2) {
      fail(`the bundle read ${example} as format ${model.format}, expected 2.`);
    }
    // The first run left V8's code of the files it loaded; the second runs from it.
    const entries = readdirSync(join(scratch, 'cache', 'code-v8'));
    for (const file of ['reproserver-main.js', 'reproserver-inspect-read.js']) {
      if (!entries.includes(`${file}.inspect.v8`)) {
        fail(
          `the bundle kept no code cache of ${file} (it has ${entries.join(', ')}).`
        );
      }
    }
    if (JSON.stringify(read()) !== JSON.stringify(model)) {
      fail('the bundle read the example differently from its code cache.');
    }
    // reprozip's config was read without the `yaml` library; one in another style needs it.
    if (entries.includes('reproserver-yaml.js.inspect.v8')) {
      fail(`the bundle loaded the yaml library to read ${example}.`);
    }
    const flowStyle = read(flowStylePackage(scratch));
    if (flowStyle.runs[0]?.environ?.HOME !== '/root') {
      fail(
        `the bundle read a flow-style config as ${JSON.stringify(flowStyle.runs)}.`
      );
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * A small package whose config is in the flow style of old reprozip versions (PyYAML before 5.1),
 * which only the `yaml` library reads: made with tar in `scratch`, its path returned.
 */
function flowStylePackage(scratch) {
  const folder = join(scratch, 'flow-style');
  mkdirSync(join(folder, 'METADATA'), { recursive: true });
  writeFileSync(join(folder, 'METADATA', 'version'), 'REPROZIP VERSION 2\n');
  writeFileSync(
    join(folder, 'METADATA', 'config.yml'),
    'version: "0.7"\nruns:\n- {argv: [sh], binary: /bin/sh, environ: {HOME: /root},' +
      ' workingdir: /, uid: 0, gid: 0, exitcode: 0}\n'
  );
  mkdirSync(join(folder, 'data', 'DATA'), { recursive: true });
  execFileSync('tar', [
    '-czf',
    join(folder, 'DATA.tar.gz'),
    '-C',
    join(folder, 'data'),
    'DATA'
  ]);
  const path = join(scratch, 'flow-style.rpz');
  execFileSync('tar', ['-cf', path, '-C', folder, 'METADATA', 'DATA.tar.gz']);
  return path;
}

checkInputs();
checkNode();
rmSync(OUT, { recursive: true, force: true });
await bundle();
writePackageJson();
copyRuntimeFiles();
smokeTest();
console.log(
  `bundle-server: ${relative(ROOT, OUT)}/ (checked on Node.js ${process.version})`
);
