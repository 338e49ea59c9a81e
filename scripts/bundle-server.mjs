/**
 * Bundles the compiled companion server (server/dist, from `npm run build:server`) into
 * jupyterlab_reproserver/server/, which the Python wheel ships, so that `pip install` gives a
 * server that needs nothing but Node.js:
 *
 *   package.json                    name and version (the server reads ../package.json from bin/),
 *                                   and the Node.js it was built for
 *   bin/reproserver.js              the command line's entry: `--version`, `--help`, option checks
 *   bin/reproserver-COMMAND.js      each command (build, inspect, run, serve) with all its JavaScript
 *                                   dependencies, one CommonJS file each, loaded only when that
 *                                   command runs: one file for all would be parsed at every start
 *                                   (`reproserver --version` took 2.5× longer)
 *   bin/reader-process.js           the package reader the server runs in child processes (it looks
 *                                   for it beside its own code)
 *   helpers/rpz-exec                the static helper run inside sandboxes and containers
 *   node_modules/better-sqlite3/    native: cannot be bundled; only what it loads at run time,
 *   node_modules/bindings/          with the two small packages that find its .node file
 *   node_modules/file-uri-to-path/
 *
 * The folder is generated (ignored by git) and rebuilt from scratch each time.
 * Usage: node scripts/bundle-server.mjs
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SERVER = join(ROOT, 'server');
const OUT = join(ROOT, 'jupyterlab_reproserver', 'server');
const BUNDLE = join(OUT, 'bin', 'reproserver.js');
/** The commands server/src/cli/main.ts loads on demand; each becomes its own file. */
const COMMANDS = ['build', 'inspect', 'run', 'serve'];
const CLI = join(SERVER, 'dist', 'cli');
const READER = join(OUT, 'bin', 'reader-process.js');

/** The runtime files of each package copied beside the bundle (what `require` reaches). */
const NATIVE_PACKAGES = {
  'better-sqlite3': [
    'package.json',
    'LICENSE',
    'lib',
    'build/Release/better_sqlite3.node'
  ],
  bindings: ['package.json', 'LICENSE.md', 'bindings.js'],
  'file-uri-to-path': ['package.json', 'LICENSE', 'index.js']
};

/**
 * Left to `require` at run time. better-sqlite3 is native (above). The others are optional
 * native add-ons their users load inside try/catch (ssh2, via dockerode) and do without.
 */
const EXTERNAL = ['better-sqlite3', 'cpu-features', '*.node'];

function fail(message) {
  console.error(`bundle-server: ${message}`);
  process.exit(1);
}

function checkInputs() {
  for (const file of [
    'dist/cli/main.js',
    'dist/rpz/worker/reader-process.js',
    'dist/helpers/rpz-exec'
  ]) {
    if (!existsSync(join(SERVER, file))) {
      fail(`server/${file} is missing: run "npm run build:server" first.`);
    }
  }
}

/** The directory of a package as the server resolves it (npm workspaces hoist to the root). */
function packageDir(name, from) {
  return dirname(
    createRequire(join(from, 'package.json')).resolve(`${name}/package.json`)
  );
}

/**
 * The native module must load in this Node.js: it is the one whose ABI we record. A module
 * compiled for another Node.js fails here, at build time, rather than on the user's machine.
 */
function checkNativeModuleLoads() {
  const Database = createRequire(join(SERVER, 'package.json'))(
    'better-sqlite3'
  );
  try {
    new Database(':memory:').close();
  } catch (error) {
    fail(
      `better-sqlite3 does not load in Node.js ${process.version} (${error.message.split('\n')[0]}); ` +
        'rebuild it for this Node.js ("npm rebuild better-sqlite3") and bundle again.'
    );
  }
}

/**
 * Keeps main.js's `require('./inspect')` (and the other commands) out of the entry's bundle: it
 * becomes `require('./reproserver-inspect.js')`, the command's own bundle beside it.
 */
const commandsApart = {
  name: 'commands-apart',
  setup(build) {
    const filter = new RegExp(`^\\./(${COMMANDS.join('|')})$`);
    build.onResolve({ filter }, args =>
      args.importer === join(CLI, 'main.js')
        ? { path: `./reproserver-${args.path.slice(2)}.js`, external: true }
        : undefined
    );
  }
};

async function bundle() {
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
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
    plugins: [commandsApart]
  });
  chmodSync(BUNDLE, 0o755);
  for (const command of COMMANDS) {
    await build({
      ...common,
      entryPoints: [join(CLI, `${command}.js`)],
      outfile: join(OUT, 'bin', `reproserver-${command}.js`)
    });
  }
  // The package reader runs in child processes started from this file (rpz/worker/).
  await build({
    ...common,
    entryPoints: [join(SERVER, 'dist', 'rpz', 'worker', 'reader-process.js')],
    outfile: READER
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
    engines: server.engines,
    // Read by the entry point: better-sqlite3 only loads in a Node.js with this ABI.
    builtWith: {
      node: process.version,
      modules: process.versions.modules,
      platform: process.platform,
      arch: process.arch
    }
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
  const betterSqlite = packageDir('better-sqlite3', SERVER);
  for (const [name, files] of Object.entries(NATIVE_PACKAGES)) {
    // bindings and file-uri-to-path are what better-sqlite3 requires: resolve them from there.
    const from = name === 'better-sqlite3' ? SERVER : betterSqlite;
    const source = packageDir(name, from);
    for (const file of files) {
      if (!existsSync(join(source, file))) {
        fail(`${join(source, file)} is missing (npm ci, then build again).`);
      }
      cpSync(join(source, file), join(OUT, 'node_modules', name, file), {
        recursive: true
      });
    }
  }
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
  const model = JSON.parse(
    execFileSync(process.execPath, [BUNDLE, 'inspect', example, '--json'], {
      cwd: '/',
      env: { ...env, REPROSERVER_STATE_DIR: join(OUT, '.smoke-state') },
      encoding: 'utf8'
    })
  );
  rmSync(join(OUT, '.smoke-state'), { recursive: true, force: true });
  if (model.format !== 2) {
    fail(`the bundle read ${example} as format ${model.format}, expected 2.`);
  }
}

checkInputs();
checkNativeModuleLoads();
rmSync(OUT, { recursive: true, force: true });
await bundle();
writePackageJson();
copyRuntimeFiles();
smokeTest();
console.log(
  `bundle-server: ${relative(ROOT, OUT)}/ (Node.js ${process.version}, ABI ${process.versions.modules})`
);
