/**
 * What each npm package would publish, against what it should: `npm pack --dry-run --json` of the
 * extension (the root) and of the companion server (server/), compared with the files their
 * sources make. Fails with the difference (scripts/release-check.sh runs it).
 *
 * Expected = the fixed files below + one output per source module: every src/**.ts(x) but tests
 * and declarations gives lib/X.js, lib/X.js.map and lib/X.d.ts; every server/src/**.ts but tests
 * gives dist/X.js and dist/X.d.ts. So a module added to the sources is expected without an edit
 * here, and a stale output of a removed one (or one not built yet) is a difference.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Each package: its folder, the files it always has, and how its sources map to outputs. */
const PACKAGES = [
  {
    dir: '.',
    fixed: [
      'LICENSE',
      'README.md',
      'package.json',
      'schema/import.json',
      'schema/plugin.json',
      'style/base.css',
      'style/index.css',
      'style/index.js',
      'style/icons/rpz.svg'
    ],
    sources: 'src',
    isSource: path =>
      /\.tsx?$/.test(path) &&
      !/\.d\.ts$/.test(path) &&
      !path.includes('__tests__/'),
    outputs: base => [
      `lib/${base}.js`,
      `lib/${base}.js.map`,
      `lib/${base}.d.ts`
    ],
    executable: [],
    rebuild: 'rm -rf lib tsconfig.tsbuildinfo && npm run build:lib'
  },
  {
    dir: 'server',
    fixed: [
      'LICENSE',
      'package.json',
      'bin/reproserver.js',
      'dist/helpers/rpz-exec'
    ],
    sources: 'server/src',
    isSource: path => /\.ts$/.test(path) && !/\.(test|d)\.ts$/.test(path),
    outputs: base => [`dist/${base}.js`, `dist/${base}.d.ts`],
    // The CLI's bin and the helper must keep their exec bit in the tarball.
    executable: ['bin/reproserver.js', 'dist/helpers/rpz-exec'],
    rebuild: 'rm -rf server/dist && npm run build:server'
  }
];

function walk(dir) {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter(entry => entry.isFile())
    .map(entry =>
      relative(
        join(ROOT, dir),
        join(entry.parentPath ?? entry.path, entry.name)
      )
    );
}

function expectedFiles(spec) {
  const files = new Set(spec.fixed);
  for (const path of walk(spec.sources)) {
    if (spec.isSource(path)) {
      for (const output of spec.outputs(path.replace(/\.tsx?$/, ''))) {
        files.add(output);
      }
    }
  }
  return files;
}

function packedFiles(spec) {
  const json = execFileSync(
    'npm',
    ['pack', '--dry-run', '--json', '--ignore-scripts'],
    {
      cwd: join(ROOT, spec.dir),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe']
    }
  );
  const [pack] = JSON.parse(json);
  return { name: pack.name, version: pack.version, files: pack.files };
}

let failed = false;
for (const spec of PACKAGES) {
  const expected = expectedFiles(spec);
  const pack = packedFiles(spec);
  const packed = new Set(pack.files.map(file => file.path));
  const extra = [...packed].filter(path => !expected.has(path)).sort();
  const missing = [...expected].filter(path => !packed.has(path)).sort();
  const notExecutable = spec.executable.filter(path =>
    pack.files.some(file => file.path === path && (file.mode & 0o111) === 0)
  );
  const version = JSON.parse(
    readFileSync(join(ROOT, spec.dir, 'package.json'), 'utf8')
  ).version;
  if (extra.length || missing.length || notExecutable.length) {
    failed = true;
    console.error(
      `npm pack of ${pack.name} (${spec.dir}) differs from what its sources make:`
    );
    for (const path of extra) {
      console.error(`  + ${path}  (packed, but no source makes it: stale?)`);
    }
    for (const path of missing) {
      console.error(
        `  - ${path}  (expected, not packed: not built, or left out by "files")`
      );
    }
    for (const path of notExecutable) {
      console.error(`  ! ${path}  (packed without its exec bit)`);
    }
    console.error(`  (to start from clean outputs: ${spec.rebuild})`);
  } else {
    console.log(
      `npm pack of ${pack.name}@${version}: ${packed.size} files, as expected`
    );
  }
}
process.exit(failed ? 1 : 0);
