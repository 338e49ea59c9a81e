/**
 * The two version checks of a state folder: the records database's migrations (user_version)
 * and the layout file of the folder. Real SQLite files and real folders; records.test.ts has
 * the first checks of the runner, these are the rest.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  writeFileSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LIMITS } from '../../../src/runs/edits';
import type { PackageModel } from '../../../src/rpz/model';
import { openStore } from '../../../src/store';
import { migrate, openDatabase } from '../../../src/store/database';
import { MIGRATIONS } from '../../../src/store/migrations';
import { Records } from '../../../src/store/records';
import { pragmaValue, type Database } from '../../../src/store/sqlite';
import {
  LAYOUT_FILE,
  NewerStateError,
  currentLayout,
  readLayout,
  upgradeLayout,
  type LayoutMigration
} from '../../../src/store/state-layout';
import { SERVER_VERSION } from '../../../src/version';

const sha = (n: number): string => n.toString(16).padStart(64, '0');

const folder = (): string =>
  mkdtempSync(join(tmpdir(), 'reproserver-migrations-'));

const rows = (db: Database, sql: string): unknown[] =>
  db
    .prepare(sql)
    .all()
    .map(row => ({ ...row }));

/** Every table's name and rows: what "unchanged" means for a database. */
function contents(db: Database): Record<string, unknown[]> {
  const tables = rows(
    db,
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
  ) as { name: string }[];
  return Object.fromEntries(
    tables.map(({ name }) => [name, rows(db, `SELECT * FROM "${name}"`)])
  );
}

/** The real schema with one package, one run and its output and input. */
function recordsWithARun(path: string): void {
  const records = Records.open(path);
  records.putPackage({
    sha256: sha(1),
    name: 'p.rpz',
    size: 1,
    model: { sha256: sha(1) } as PackageModel,
    source: { kind: 'blob' }
  });
  const run = records.createRun({
    packageSha256: sha(1),
    edits: {},
    limits: DEFAULT_LIMITS
  });
  records.addOutput(run.id, {
    name: 'out',
    path: '/exp/out',
    kind: 'declared',
    size: 2,
    sha256: sha(2),
    uid: 0,
    gid: 0,
    mode: 0o644
  });
  records.addInput(run.id, { name: 'in', sha256: sha(3), size: 3 });
  records.close();
}

describe('records migrations', () => {
  it('applies the pending steps in their order, each once', () => {
    const path = join(folder(), 'records.sqlite');
    const steps = [
      'CREATE TABLE journal (n INTEGER PRIMARY KEY, step TEXT)',
      "INSERT INTO journal (step) VALUES ('second')",
      "INSERT INTO journal (step) VALUES ('third')"
    ];
    openDatabase(path, steps.slice(0, 2)).close();
    const db = openDatabase(path, steps);
    expect(rows(db, 'SELECT step FROM journal ORDER BY n')).toEqual([
      { step: 'second' },
      { step: 'third' }
    ]);
    db.close();
    // Reopened: nothing pending, nothing applied again.
    const again = openDatabase(path, steps);
    expect(pragmaValue(again, 'user_version')).toBe(3);
    expect(rows(again, 'SELECT count(*) AS n FROM journal')).toEqual([
      { n: 2 }
    ]);
    again.close();
  });

  it('refuses a newer database with both versions, what to do, and no change', () => {
    const path = join(folder(), 'records.sqlite');
    recordsWithARun(path);
    const before = openDatabase(path);
    const data = contents(before);
    before.close();
    let error: unknown;
    try {
      openDatabase(path, MIGRATIONS.slice(0, 1));
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(NewerStateError);
    expect(error).toMatchObject({ found: MIGRATIONS.length, known: 1 });
    const message = (error as Error).message;
    expect(message).toContain(
      `The schema of the records database ${path} is at version ${MIGRATIONS.length}, newer than this ReproServer knows (1; this is ReproServer ${SERVER_VERSION})`
    );
    expect(message).toMatch(/Upgrade ReproServer .* another state folder/);
    const after = openDatabase(path);
    expect(pragmaValue(after, 'user_version')).toBe(MIGRATIONS.length);
    expect(contents(after)).toEqual(data);
    after.close();
  });

  it('rolls back every pending step when one fails, data included', () => {
    const path = join(folder(), 'records.sqlite');
    recordsWithARun(path);
    const db = openDatabase(path);
    const data = contents(db);
    const failing = [
      ...MIGRATIONS,
      'ALTER TABLE runs ADD COLUMN note TEXT; UPDATE runs SET note = id',
      "DELETE FROM run_outputs; INSERT INTO runs (id) VALUES ('x')"
    ];
    // The second step fails (runs has NOT NULL columns) after deleting outputs.
    expect(() => migrate(db, failing)).toThrow(/NOT NULL/);
    expect(pragmaValue(db, 'user_version')).toBe(MIGRATIONS.length);
    expect(contents(db)).toEqual(data);
    expect(rows(db, 'PRAGMA table_info(runs)')).not.toContainEqual(
      expect.objectContaining({ name: 'note' })
    );
    // The connection is usable, outside any transaction, with foreign keys on again.
    expect(pragmaValue(db, 'foreign_keys')).toBe(1);
    db.exec('BEGIN; COMMIT');
    db.close();
  });

  it('rebuilds a referenced table without cascading deletes', () => {
    const path = join(folder(), 'records.sqlite');
    recordsWithARun(path);
    const db = openDatabase(path);
    const data = contents(db);
    const { sql } = db
      .prepare("SELECT sql FROM sqlite_master WHERE name = 'runs'")
      .get() as { sql: string };
    // SQLite's way to change a table: new table, copy, drop the old one, rename. With foreign
    // keys on, the DROP would delete every run's outputs and inputs by cascade.
    const rebuild = `
      ${sql.replace('CREATE TABLE runs', 'CREATE TABLE runs_new')};
      INSERT INTO runs_new SELECT * FROM runs;
      DROP TABLE runs;
      ALTER TABLE runs_new RENAME TO runs;
    `;
    migrate(db, [...MIGRATIONS, rebuild]);
    expect(pragmaValue(db, 'user_version')).toBe(MIGRATIONS.length + 1);
    expect(contents(db)).toEqual(data);
    expect(pragmaValue(db, 'foreign_keys')).toBe(1);
    db.close();
  });

  it('refuses a step that leaves rows pointing at nothing', () => {
    const path = join(folder(), 'records.sqlite');
    recordsWithARun(path);
    const db = openDatabase(path);
    const data = contents(db);
    expect(() => migrate(db, [...MIGRATIONS, 'DELETE FROM packages'])).toThrow(
      /would leave 1 rows pointing at rows that do not exist.*nothing was changed/
    );
    expect(pragmaValue(db, 'user_version')).toBe(MIGRATIONS.length);
    expect(contents(db)).toEqual(data);
    db.close();
  });
});

describe('the committed state fixtures', () => {
  const fixtures = join(__dirname, '..', '..', 'fixtures', 'state');

  it.each(readdirSync(fixtures))(
    'keep every row of %s through one more step, as the next version will',
    version => {
      const path = join(folder(), 'records.sqlite');
      copyFileSync(join(fixtures, version, 'state', 'records.sqlite'), path);
      const before = openDatabase(path);
      const data = contents(before);
      before.close();
      expect(data.runs.length).toBeGreaterThan(0);
      const next = openDatabase(path, [
        ...MIGRATIONS,
        "ALTER TABLE runs ADD COLUMN label TEXT NOT NULL DEFAULT ''"
      ]);
      const after = contents(next);
      next.close();
      expect(after).toEqual({
        ...data,
        runs: data.runs.map(run => ({ ...(run as object), label: '' }))
      });
    }
  );
});

describe('state folder layout', () => {
  const step = (
    description: string,
    apply: (stateDir: string) => void
  ): LayoutMigration => ({ description, apply });

  it('writes the current layout into a new folder, and reads a folder without the file as 1', () => {
    const stateDir = folder();
    expect(readLayout(stateDir)).toBe(1);
    upgradeLayout(stateDir, 1);
    expect(readFileSync(join(stateDir, LAYOUT_FILE), 'utf8')).toBe(
      `${currentLayout()}\n`
    );
    expect(readLayout(stateDir)).toBe(currentLayout());
  });

  it('applies the pending steps in order, and none again once done', () => {
    const stateDir = folder();
    const done: string[] = [];
    const steps = ['two', 'three', 'four'].map(name =>
      step(name, dir => {
        done.push(name);
        writeFileSync(join(dir, name), '');
      })
    );
    writeFileSync(join(stateDir, LAYOUT_FILE), '2\n');
    upgradeLayout(stateDir, readLayout(stateDir, steps), steps);
    expect(done).toEqual(['three', 'four']);
    expect(readLayout(stateDir, steps)).toBe(4);
    upgradeLayout(stateDir, readLayout(stateDir, steps), steps);
    expect(done).toEqual(['three', 'four']);
    expect(readdirSync(stateDir).sort()).toEqual([
      'four',
      LAYOUT_FILE,
      'three'
    ]);
  });

  it('resumes at the step that failed, after the ones that succeeded', () => {
    const stateDir = folder();
    let broken = true;
    const done: string[] = [];
    const steps = [
      step('first', () => done.push('first')),
      step('second', () => {
        if (broken) {
          throw new Error('disk full');
        }
        done.push('second');
      })
    ];
    expect(() => upgradeLayout(stateDir, 1, steps)).toThrow(
      `Bringing the state folder ${stateDir} from layout 2 to 3 (second) failed: disk full.`
    );
    expect(readLayout(stateDir, steps)).toBe(2);
    broken = false;
    upgradeLayout(stateDir, readLayout(stateDir, steps), steps);
    expect(done).toEqual(['first', 'second']);
    expect(readLayout(stateDir, steps)).toBe(3);
  });

  it('refuses a newer layout, or a file it cannot read', () => {
    const stateDir = folder();
    writeFileSync(join(stateDir, LAYOUT_FILE), `${currentLayout() + 1}\n`);
    expect(() => readLayout(stateDir)).toThrow(NewerStateError);
    expect(() => readLayout(stateDir)).toThrow(
      `The layout of the state folder ${stateDir} (file ${LAYOUT_FILE}) is at version ${currentLayout() + 1}, newer than this ReproServer knows (${currentLayout()}; this is ReproServer ${SERVER_VERSION})`
    );
    writeFileSync(join(stateDir, LAYOUT_FILE), 'two\n');
    expect(() => readLayout(stateDir)).toThrow(
      /does not hold a layout number \(it holds "two\\n"\)/
    );
  });

  it('is checked by openStore before the database is created or changed', async () => {
    const stateDir = folder();
    writeFileSync(join(stateDir, LAYOUT_FILE), `${currentLayout() + 1}\n`);
    expect(() => openStore(stateDir)).toThrow(NewerStateError);
    expect(existsSync(join(stateDir, 'records.sqlite'))).toBe(false);

    const fresh = join(folder(), 'state');
    mkdirSync(fresh);
    const store = openStore(fresh);
    await store.close();
    expect(readLayout(fresh)).toBe(currentLayout());
    expect(readFileSync(join(fresh, LAYOUT_FILE), 'utf8')).toBe(
      `${currentLayout()}\n`
    );
  });
});
