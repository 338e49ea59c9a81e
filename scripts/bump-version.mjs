/**
 * Sets the one version of the project everywhere it is written: the extension (package.json,
 * src/model/version.ts), the companion server (server/package.json), the UI tests' private
 * package, and package-lock.json's copies of them. The Python package takes the root
 * package.json's (hatch-nodejs-version), so it follows without an edit here.
 *
 *   npm run bump -- 0.2.0          an exact version (also 0.2.0-alpha.1, -beta.N, -rc.N)
 *   npm run bump -- patch          or the next major, minor or patch of the current version
 *   npm run bump -- next           the next pre-release of a pre-release, else the next patch
 *   node scripts/bump-version.mjs --root DIR VERSION    another tree (the unit test uses a copy)
 *
 * jupyter-releaser calls it as its version_cmd (pyproject.toml) with the version spec it was
 * given. Prints the new version. server/test/unit/release/versions.test.ts checks that the
 * places agree and that this script moves them all.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** npm's semver forms that hatch-nodejs-version also turns into a PEP 440 version. */
const VERSION = /^(\d+)\.(\d+)\.(\d+)(-(alpha|beta|rc)\.(\d+))?$/;
const PACKAGES = [
  'package.json',
  'server/package.json',
  'ui-tests/package.json'
];
/** package-lock.json's keys for the packages above ('' is the root). */
const LOCK_ENTRIES = ['', 'server', 'ui-tests'];
const VERSION_TS = 'src/model/version.ts';
const VERSION_TS_LINE = /^(export const EXTENSION_VERSION = ')[^']*(';)$/m;

function fail(message) {
  console.error(`bump-version: ${message}`);
  process.exit(2);
}

/** The version to set: SPEC itself, or the next major/minor/patch of CURRENT. */
function nextVersion(current, spec) {
  const parts = VERSION.exec(current);
  if (!parts) {
    fail(`the current version ${current} is not one this script knows`);
  }
  const [major, minor, patch] = parts.slice(1, 4).map(Number);
  switch (spec) {
    case 'major':
      return `${major + 1}.0.0`;
    case 'minor':
      return `${major}.${minor + 1}.0`;
    case 'next':
      // jupyter-releaser's default: the next pre-release of a pre-release, else the next patch.
      return parts[4]
        ? `${major}.${minor}.${patch}-${parts[5]}.${Number(parts[6]) + 1}`
        : `${major}.${minor}.${patch + 1}`;
    case 'patch':
      // A pre-release is followed by its own release, as npm version does.
      return parts[4]
        ? `${major}.${minor}.${patch}`
        : `${major}.${minor}.${patch + 1}`;
    default:
      if (!VERSION.test(spec)) {
        fail(
          `"${spec}" is neither major, minor, patch, next nor a version like 1.2.3 or 1.2.3-rc.1`
        );
      }
      return spec;
  }
}

function editJson(file, change) {
  const data = JSON.parse(readFileSync(file, 'utf8'));
  change(data);
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
}

function main(argv) {
  let root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const args = [...argv];
  if (args[0] === '--root') {
    root = args[1];
    args.splice(0, 2);
  }
  if (args.length !== 1) {
    fail(
      'usage: node scripts/bump-version.mjs [--root DIR] VERSION|major|minor|patch|next'
    );
  }
  const current = JSON.parse(
    readFileSync(join(root, 'package.json'), 'utf8')
  ).version;
  const version = nextVersion(current, args[0]);

  for (const file of PACKAGES) {
    editJson(join(root, file), data => {
      data.version = version;
    });
  }
  editJson(join(root, 'package-lock.json'), lock => {
    lock.version = version;
    for (const key of LOCK_ENTRIES) {
      if (!lock.packages?.[key]) {
        fail(`package-lock.json has no entry "${key}"`);
      }
      lock.packages[key].version = version;
    }
  });
  const versionTs = join(root, VERSION_TS);
  const source = readFileSync(versionTs, 'utf8');
  if (!VERSION_TS_LINE.test(source)) {
    fail(`${VERSION_TS} has no line "export const EXTENSION_VERSION = '...';"`);
  }
  writeFileSync(versionTs, source.replace(VERSION_TS_LINE, `$1${version}$2`));
  console.log(version);
}

main(process.argv.slice(2));
