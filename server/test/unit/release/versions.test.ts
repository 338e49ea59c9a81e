/**
 * One version for the extension, the companion server and the Python package (issue #14): every
 * place it is written agrees, and scripts/bump-version.mjs moves them all at once.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..', '..');
const BUMP = join(ROOT, 'scripts', 'bump-version.mjs');
/** Every file the version is written in (the Python package reads package.json). */
const FILES = [
  'package.json',
  'server/package.json',
  'ui-tests/package.json',
  'package-lock.json',
  'src/model/version.ts'
];

function json(root: string, file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(root, file), 'utf8'));
}

/** Each place's version, by a name that says where it is. */
function versions(root: string): Record<string, string> {
  const lock = json(root, 'package-lock.json') as {
    version: string;
    packages: Record<string, { version: string }>;
  };
  const versionTs = /EXTENSION_VERSION = '([^']*)'/.exec(
    readFileSync(join(root, 'src/model/version.ts'), 'utf8')
  );
  return {
    'package.json': json(root, 'package.json').version as string,
    'server/package.json': json(root, 'server/package.json').version as string,
    'ui-tests/package.json': json(root, 'ui-tests/package.json')
      .version as string,
    'package-lock.json': lock.version,
    'package-lock.json packages[""]': lock.packages[''].version,
    'package-lock.json packages.server': lock.packages['server'].version,
    'package-lock.json packages.ui-tests': lock.packages['ui-tests'].version,
    'src/model/version.ts': versionTs ? versionTs[1] : '(no EXTENSION_VERSION)'
  };
}

function expectAll(root: string, version: string): void {
  const found = versions(root);
  expect(found).toEqual(
    Object.fromEntries(Object.keys(found).map(place => [place, version]))
  );
}

describe('the project has one version', () => {
  it('in the extension, the server, the UI tests and the lock file', () => {
    expectAll(ROOT, json(ROOT, 'package.json').version as string);
  });

  it("which is the Python package's too: hatch reads it from package.json", () => {
    const pyproject = readFileSync(join(ROOT, 'pyproject.toml'), 'utf8');
    expect(pyproject).toMatch(/^\[tool\.hatch\.version\]\nsource = "nodejs"$/m);
    expect(pyproject).toMatch(/^dynamic = \[[^\]]*"version"/m);
    const project = pyproject.split(/^\[project\]$/m)[1].split(/^\[/m)[0];
    expect(project).not.toMatch(/^version\s*=/m);
  });
});

describe('the project has one oldest Node.js', () => {
  it("the server's engines, the root's, and the Python package's lookup of a node agree", () => {
    const engines = (file: string): unknown =>
      (json(ROOT, file).engines as { node: string }).node;
    const [, major, minor] = /^>=(\d+)\.(\d+)$/.exec(
      String(engines('server/package.json'))
    )!;
    expect(engines('package.json')).toBe(engines('server/package.json'));
    const lookup = readFileSync(
      join(ROOT, 'jupyterlab_reproserver/_node.py'),
      'utf8'
    );
    expect(lookup).toMatch(
      new RegExp(`^MIN_NODE = \\(${major}, ${minor}\\)$`, 'm')
    );
  });
});

describe('scripts/bump-version.mjs', () => {
  let copy: string;

  beforeEach(() => {
    copy = mkdtempSync(join(tmpdir(), 'bump-version-'));
    for (const file of FILES) {
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      cpSync(join(ROOT, file), join(copy, file));
    }
  });

  afterEach(() => {
    rmSync(copy, { recursive: true, force: true });
  });

  function bump(spec: string) {
    return spawnSync(process.execPath, [BUMP, '--root', copy, spec], {
      encoding: 'utf8'
    });
  }

  it('sets an exact version everywhere', () => {
    const result = bump('9.8.7-rc.1');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe('9.8.7-rc.1');
    expectAll(copy, '9.8.7-rc.1');
  });

  it('steps major, minor and patch from the current version', () => {
    bump('1.4.2');
    expect(bump('patch').stdout.trim()).toBe('1.4.3');
    expect(bump('minor').stdout.trim()).toBe('1.5.0');
    expect(bump('major').stdout.trim()).toBe('2.0.0');
    expectAll(copy, '2.0.0');
    expect(bump('next').stdout.trim()).toBe('2.0.1');
    bump('2.1.0-beta.1');
    expect(bump('next').stdout.trim()).toBe('2.1.0-beta.2');
    expect(bump('patch').stdout.trim()).toBe('2.1.0');
    expectAll(copy, '2.1.0');
  });

  it('refuses what is not a version, and changes nothing', () => {
    const before = versions(copy);
    const result = bump('next-please');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('"next-please" is neither');
    expect(versions(copy)).toEqual(before);
  });

  it('keeps the rest of the files as they were', () => {
    const before = readFileSync(join(copy, 'src/model/version.ts'), 'utf8');
    bump('3.0.0');
    const after = readFileSync(join(copy, 'src/model/version.ts'), 'utf8');
    const current = json(ROOT, 'package.json').version as string;
    expect(after).toBe(
      before.replace(
        `EXTENSION_VERSION = '${current}'`,
        "EXTENSION_VERSION = '3.0.0'"
      )
    );
    const server = json(copy, 'server/package.json');
    expect(server.name).toBe('reproserver');
    expect(server.dependencies).toEqual(
      json(ROOT, 'server/package.json').dependencies
    );
  });
});
