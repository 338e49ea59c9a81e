/**
 * Makes the state fixture of this version: a small state folder written by the real server
 * (the built CLI, `reproserver serve`), committed under server/test/fixtures/state/<version>/ so
 * that the next versions' tests open it and find everything
 * (server/test/integration/store/state-fixtures.test.ts). A release step (RELEASE.md): once
 * released, a version's fixture is never made again.
 *
 *   node scripts/make-state-fixture.mjs            after `npm run build`; needs the sandbox backend
 *   node scripts/make-state-fixture.mjs --force    replace this version's fixture (before release)
 *
 * What the folder holds: the committed example examples/shell-pipeline.rpz (made by the real
 * reprozip, the same bytes in every clone; not one of .state/examples/, whose bytes differ on
 * each machine that packs them) registered from the workspace, so the package itself is not in
 * the fixture (1.2 MB) but found again at its workspace path; one input uploaded; one
 * run on the sandbox backend (no Docker) with an edited parameter and the uploaded input,
 * finished, with its log and its output. Caches the server rebuilds on demand (the sandbox's
 * root filesystems, scratch files) are left out; everything else is copied as the server left it.
 * Beside the folder, fixture.json says what a client saw through the API, for the test to
 * compare with.
 */
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'server', 'bin', 'reproserver.js');
const BUILT = join(ROOT, 'server', 'dist', 'cli', 'main.js');
const EXAMPLE = 'examples/shell-pipeline.rpz';
/** Where the workspace has the package: the fixture's record points there. */
const PACKAGE_PATH = 'packages/shell-pipeline.rpz';
/** The uploaded input (the example's "other-words" variant) and the edited argument. */
const INPUT_TEXT = 'red green blue\nblue green blue\n';
const EDITS = {
  stepEdits: [{ step: 0, args: [{ index: 3, value: '2' }] }]
};
/** What the state folder keeps: the rest are caches the server makes again. */
const KEPT = new Set(['records.sqlite', 'layout-version', 'blobs', 'runs']);
/** Past this, the fixture is not the small thing a commit should carry. */
const MAX_BYTES = 200 * 1024;

function fail(message) {
  console.error(`make-state-fixture: ${message}`);
  process.exit(1);
}

function sizeOf(path) {
  const info = statSync(path);
  if (!info.isDirectory()) {
    return info.size;
  }
  return readdirSync(path).reduce(
    (total, name) => total + sizeOf(join(path, name)),
    0
  );
}

/** Starts `reproserver serve`; resolves once it says where it listens. */
async function startServer(stateDir, workspace, token) {
  const handover = join(mkdtempSync(join(tmpdir(), 'fixture-token-')), 't');
  writeFileSync(handover, token, { mode: 0o600 });
  const child = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      '--port',
      '0',
      '--state',
      stateDir,
      '--workspace',
      workspace,
      '--token-from',
      handover
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  );
  let output = '';
  child.stdout.on('data', chunk => (output += chunk));
  child.stderr.on('data', chunk => (output += chunk));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the server did not start:\n${output}`)),
      30_000
    );
    child.stdout.on('data', () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', code => {
      clearTimeout(timer);
      reject(new Error(`the server exited with ${code}:\n${output}`));
    });
  });
  const exited = new Promise(resolve => child.once('exit', resolve));
  return {
    url,
    output: () => output,
    /** SIGTERM, as a supervisor stops it: the store is closed, the database checkpointed. */
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    }
  };
}

async function call(server, token, method, path, body) {
  const response = await fetch(new URL(path, server.url), {
    method,
    headers: { 'x-reproserver-token': token },
    body:
      body === undefined || Buffer.isBuffer(body) ? body : JSON.stringify(body)
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${method} ${path}: ${response.status} ${text}`);
  }
  return text;
}

async function writeState(stateDir, workspace) {
  const token = `fixture-${process.pid}-${Date.now()}`;
  const server = await startServer(stateDir, workspace, token);
  const api = async (method, path, body) =>
    call(server, token, method, path, body);
  const json = async (method, path, body) =>
    JSON.parse(await api(method, path, body));
  try {
    const pkg = await json('POST', '/api/packages', { path: PACKAGE_PATH });
    const input = await json('POST', '/api/uploads', Buffer.from(INPUT_TEXT));
    const created = await json('POST', '/api/runs', {
      package: pkg.sha256,
      backend: 'sandbox',
      edits: {
        ...EDITS,
        inputs: [
          { name: 'arg2', source: { kind: 'blob', sha256: input.sha256 } }
        ]
      }
    });
    let run = created;
    const deadline = Date.now() + 180_000;
    while (['queued', 'building', 'running'].includes(run.status)) {
      if (Date.now() > deadline) {
        throw new Error(`run ${run.id} still ${run.status} after 180 s`);
      }
      await new Promise(resolve => setTimeout(resolve, 200));
      run = await json('GET', `/api/runs/${run.id}`);
    }
    if (run.status !== 'succeeded') {
      throw new Error(
        `the run ended ${run.status}: ${run.reason}\n${server.output()}`
      );
    }
    const events = (await api('GET', `/api/runs/${run.id}/events`))
      .split('\n')
      .filter(line => line !== '')
      .map(line => JSON.parse(line));
    const outputs = {};
    for (const output of run.outputs) {
      const bytes = await api(
        'GET',
        `/api/runs/${run.id}/outputs/${encodeURIComponent(output.name)}`
      );
      outputs[output.name] = bytes;
    }
    const packages = (await json('GET', '/api/packages')).packages;
    return { packages, input, run, events, outputs };
  } finally {
    const code = await server.stop();
    if (code !== 0) {
      fail(`the server exited with ${code}:\n${server.output()}`);
    }
  }
}

async function main() {
  const force = process.argv.includes('--force');
  if (!existsSync(BUILT)) {
    fail('the server is not built: run `npm run build` first.');
  }
  const version = JSON.parse(
    readFileSync(join(ROOT, 'server', 'package.json'), 'utf8')
  ).version;
  const target = join(ROOT, 'server', 'test', 'fixtures', 'state', version);
  if (existsSync(target) && !force) {
    fail(
      `${relative(ROOT, target)} exists: a version's fixture is made once (--force replaces it).`
    );
  }

  const base = mkdtempSync(join(tmpdir(), 'reproserver-fixture-'));
  try {
    const workspace = join(base, 'workspace');
    const stateDir = join(base, 'state');
    mkdirSync(join(workspace, 'packages'), { recursive: true });
    copyFileSync(join(ROOT, EXAMPLE), join(workspace, PACKAGE_PATH));
    const seen = await writeState(stateDir, workspace);

    const left = readdirSync(stateDir).filter(name =>
      /-(wal|shm|journal)$/.test(name)
    );
    if (left.length > 0) {
      fail(`the server left ${left.join(', ')}: it did not close its store.`);
    }
    rmSync(target, { recursive: true, force: true });
    mkdirSync(join(target, 'state'), { recursive: true });
    for (const name of readdirSync(stateDir).filter(n => KEPT.has(n))) {
      cpSync(join(stateDir, name), join(target, 'state', name), {
        recursive: true,
        // A blob being written when the server stopped: there is none, but never copy one.
        filter: source => !source.includes(`${join('blobs', 'tmp')}`)
      });
    }
    const fixture = {
      schema: 'reproserver-state-fixture/1',
      version,
      about:
        'A state folder written by this version of ReproServer (scripts/make-state-fixture.mjs). The test opens a copy with the current code and expects what a client saw then.',
      // The package is found again there: the test checks that it still has these bytes.
      workspace: {
        [PACKAGE_PATH]: { source: EXAMPLE, sha256: seen.run.package }
      },
      ...seen
    };
    writeFileSync(
      join(target, 'fixture.json'),
      JSON.stringify(fixture, null, 2) + '\n'
    );
    const size = sizeOf(target);
    console.log(
      `make-state-fixture: ${relative(ROOT, target)} (${(size / 1024).toFixed(1)} KiB): package ${seen.run.package.slice(0, 12)}…, run ${seen.run.id} ${seen.run.status}, ${seen.events.length} events, outputs ${Object.keys(seen.outputs).join(', ')}`
    );
    if (size > MAX_BYTES) {
      fail(`the fixture is ${size} bytes, more than ${MAX_BYTES}.`);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch(error => fail(error.stack ?? String(error)));
