/**
 * Upgrading keeps the user's data: each state folder that a released version wrote
 * (test/fixtures/state/<version>/, made by scripts/make-state-fixture.mjs) is opened by the real
 * server of this version, which must show the same packages, runs, logs and outputs as that
 * version did, and run the package again on the migrated folder (sandbox backend). A folder from a
 * newer version is refused with both versions named, and left byte for byte as it was.
 */
import { createHash } from 'node:crypto';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type {
  PackageSummary,
  RunEventMessage,
  RunRecord
} from '../../../src/contract/wire';
import { MIGRATIONS } from '../../../src/store/migrations';
import { LAYOUT_FILE, currentLayout } from '../../../src/store/state-layout';
import { SERVER_VERSION } from '../../../src/version';
import { ApiClient } from '../../helpers/api-client';
import { startServer } from '../../helpers/server-process';

jest.setTimeout(120_000);

const REPO = resolve(__dirname, '..', '..', '..', '..');
const FIXTURES = resolve(__dirname, '..', '..', 'fixtures', 'state');

/** fixture.json: what a client of that version saw (the script's `seen`), and the workspace. */
interface Fixture {
  schema: string;
  version: string;
  /** Workspace path -> repository file holding the same bytes (a committed example). */
  workspace: Record<string, { source: string; sha256: string }>;
  packages: PackageSummary[];
  input: { sha256: string; size: number };
  run: RunRecord;
  events: RunEventMessage[];
  outputs: Record<string, string>;
}

const versions = readdirSync(FIXTURES).sort();

function loadFixture(version: string): Fixture {
  return JSON.parse(
    readFileSync(join(FIXTURES, version, 'fixture.json'), 'utf8')
  ) as Fixture;
}

const copies: string[] = [];
afterAll(() => {
  for (const base of copies) {
    rmSync(base, { recursive: true, force: true });
  }
});

/** A copy of the fixture's state folder and its workspace, as the user would have them. */
function copyOf(version: string): { stateDir: string; workspace: string } {
  const base = mkdtempSync(join(tmpdir(), `reproserver-fixture-${version}-`));
  copies.push(base);
  const stateDir = join(base, 'state');
  const workspace = join(base, 'workspace');
  cpSync(join(FIXTURES, version, 'state'), stateDir, { recursive: true });
  for (const [path, { source, sha256 }] of Object.entries(
    loadFixture(version).workspace
  )) {
    const bytes = readFileSync(join(REPO, source));
    // The fixture's records name the package by these bytes: another file is another package.
    if (createHash('sha256').update(bytes).digest('hex') !== sha256) {
      throw new Error(
        `${source} is no longer the file the ${version} state fixture was made with (sha256 ${sha256}): keep that file (as ${source} or elsewhere, named in fixture.json) for the fixtures that use it.`
      );
    }
    mkdirSync(dirname(join(workspace, path)), { recursive: true });
    writeFileSync(join(workspace, path), bytes);
  }
  return { stateDir, workspace };
}

function eventsOf(text: string): RunEventMessage[] {
  return text
    .split('\n')
    .filter(line => line !== '')
    .map(line => JSON.parse(line) as RunEventMessage);
}

/** Every file of a folder with its sha256: what "left unchanged" compares. */
function treeHashes(root: string): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const entry of readdirSync(root, {
    recursive: true,
    withFileTypes: true
  })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      hashes[path.slice(root.length)] = createHash('sha256')
        .update(readFileSync(path))
        .digest('hex');
    }
  }
  return hashes;
}

it('has the state fixture of at least one released version', () => {
  expect(versions.length).toBeGreaterThan(0);
  for (const version of versions) {
    expect(loadFixture(version)).toMatchObject({
      schema: 'reproserver-state-fixture/1',
      version
    });
  }
});

describe.each(versions)('a state folder written by %s', version => {
  const fixture = loadFixture(version);
  let api: ApiClient;
  let stateDir: string;

  beforeAll(async () => {
    const copy = copyOf(version);
    stateDir = copy.stateDir;
    api = new ApiClient(
      await startServer({ REPROSERVER_WORKSPACE: copy.workspace }, { stateDir })
    );
  });

  afterAll(async () => {
    await api?.server.stop();
  });

  it('lists its packages, and reads them from the workspace', async () => {
    const list = await api.call<{ packages: PackageSummary[] }>(
      'GET',
      '/api/packages'
    );
    expect(list.status).toBe(200);
    expect(list.body.packages).toMatchObject(fixture.packages);
    const details = await api.call<{ model: { runs: unknown[] } }>(
      'GET',
      `/api/packages/${fixture.run.package}`
    );
    expect(details.status).toBe(200);
    expect(details.body.model.runs.length).toBeGreaterThan(0);
  });

  it('shows the finished run as it was, with its whole log', async () => {
    const run = await api.call<RunRecord>('GET', `/api/runs/${fixture.run.id}`);
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject(fixture.run);
    const listed = await api.call<{ runs: RunRecord[] }>(
      'GET',
      `/api/runs?package=${fixture.run.package}`
    );
    expect(listed.body.runs.map(r => r.id)).toContain(fixture.run.id);
    const events = await api.call('GET', `/api/runs/${fixture.run.id}/events`);
    expect(events.status).toBe(200);
    expect(eventsOf(events.text)).toMatchObject(fixture.events);
    expect(eventsOf(events.text).at(-1)?.offset).toBe(fixture.run.eventsSize);
    // The live socket too: everything, then closed as for any finished run.
    const followed = await api.follow(fixture.run.id, 0);
    expect(followed.code).toBe(1000);
    expect(followed.messages).toMatchObject(fixture.events);
  });

  it('serves the run’s outputs', async () => {
    expect(Object.keys(fixture.outputs).length).toBeGreaterThan(0);
    for (const [name, text] of Object.entries(fixture.outputs)) {
      const output = await api.call(
        'GET',
        `/api/runs/${fixture.run.id}/outputs/${encodeURIComponent(name)}`
      );
      expect(output.status).toBe(200);
      expect(output.text).toBe(text);
    }
  });

  it('runs the package again, with the input uploaded then', async () => {
    const created = await api.call<RunRecord>('POST', '/api/runs', {
      package: fixture.run.package,
      backend: 'sandbox',
      edits: fixture.run.edits
    });
    expect(created.status).toBe(202);
    const run = await api.waitForEnd(created.body.id);
    expect(run).toMatchObject({ status: 'succeeded', backend: 'sandbox' });
    expect(run.outputs.map(o => [o.name, o.sha256])).toEqual(
      fixture.run.outputs.map(o => [o.name, o.sha256])
    );
  });

  it('is at this version’s schema and layout once opened', async () => {
    await api.server.stop();
    const db = new DatabaseSync(join(stateDir, 'records.sqlite'));
    try {
      expect(
        (db.prepare('PRAGMA user_version').get() as { user_version: number })
          .user_version
      ).toBe(MIGRATIONS.length);
      const runs = db.prepare('SELECT count(*) AS n FROM runs').get() as {
        n: number;
      };
      // The fixture's run and the one made here.
      expect(runs.n).toBe(2);
    } finally {
      db.close();
    }
    expect(readFileSync(join(stateDir, LAYOUT_FILE), 'utf8')).toBe(
      `${currentLayout()}\n`
    );
  });
});

describe('a state folder written by a newer version', () => {
  const newest = versions[versions.length - 1];

  async function expectRefused(
    stateDir: string,
    workspace: string,
    message: RegExp
  ): Promise<void> {
    const before = treeHashes(stateDir);
    await expect(
      startServer({ REPROSERVER_WORKSPACE: workspace }, { stateDir })
    ).rejects.toThrow(message);
    expect(treeHashes(stateDir)).toEqual(before);
  }

  it('is refused when its database schema is newer, and left unchanged', async () => {
    const { stateDir, workspace } = copyOf(newest);
    const db = new DatabaseSync(join(stateDir, 'records.sqlite'));
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    await expectRefused(
      stateDir,
      workspace,
      new RegExp(
        `records database .* is at version ${MIGRATIONS.length + 1}, newer than this ReproServer knows \\(${MIGRATIONS.length}; this is ReproServer ${SERVER_VERSION.replace(/\./g, '\\.')}\\).*Upgrade ReproServer`
      )
    );
  });

  it('is refused when its layout is newer, and left unchanged', async () => {
    const { stateDir, workspace } = copyOf(newest);
    writeFileSync(join(stateDir, LAYOUT_FILE), `${currentLayout() + 1}\n`);
    await expectRefused(
      stateDir,
      workspace,
      new RegExp(
        `layout of the state folder .* is at version ${currentLayout() + 1}, newer than this ReproServer knows \\(${currentLayout()};`
      )
    );
  });
});
