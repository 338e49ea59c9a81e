/**
 * Invariants over real packages made by `reprozip trace`/`pack` (scripts/make-examples.sh writes
 * them to `<repo>/.state/examples`, or the folder named by REPROSERVER_EXAMPLES_DIR). An empty
 * folder is a failure, not a skip: these tests are the only check against what ReproZip writes.
 *
 * DATA.tar.gz is also read with tar-stream, an independent tar reader, as the oracle for link
 * targets.
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  readFileSync,
  readdirSync
} from 'node:fs';
import { join, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import {
  readEntries,
  readPackage,
  type FsEntry,
  type PackageModel
} from '../../../src/rpz';

const examplesDir =
  process.env.REPROSERVER_EXAMPLES_DIR ??
  resolve(__dirname, '../../../../.state/examples');
const packages = existsSync(examplesDir)
  ? readdirSync(examplesDir)
      .filter(name => name.endsWith('.rpz'))
      .sort()
  : [];

interface OracleEntry {
  type: string;
  linkname: string | null;
}

/** DATA.tar.gz members as tar-stream sees them (names with DATA/). */
async function oracle(path: string): Promise<Map<string, OracleEntry>> {
  const outer = tar.extract();
  createReadStream(path).pipe(outer);
  const result = new Map<string, OracleEntry>();
  for await (const entry of outer) {
    if (entry.header.name !== 'DATA.tar.gz') {
      entry.resume();
      continue;
    }
    const inner = tar.extract();
    entry.pipe(createGunzip()).pipe(inner);
    for await (const member of inner) {
      result.set(member.header.name.replace(/\/$/, ''), {
        type: member.header.type ?? 'file',
        linkname: member.header.linkname ?? null
      });
      member.resume();
    }
  }
  return result;
}

/** The manifest make-examples.sh writes next to each package (only the parts checked here). */
interface Manifest {
  inputs_outputs: {
    name: string;
    path: string;
    read_by_runs: number[];
    written_by_runs: number[];
  }[];
  inputs?: Record<string, { sha256: string }>;
  links?: { symlinks: Record<string, string>; hardlinks: [string, string][] };
  package: {
    config_version: string;
    data_members: number;
    packages: string[];
    runs: {
      id: string;
      binary: string;
      argv: string[];
      workingdir: string;
      uid: number;
      gid: number;
      exitcode: number;
      architecture: string;
      distribution: [string, string];
    }[];
  };
}

/** Entries by path, and the sha256 of every file body. */
async function entriesOf(
  path: string
): Promise<{ entries: Map<string, FsEntry>; hashes: Map<string, string> }> {
  const entries = new Map<string, FsEntry>();
  const hashes = new Map<string, string>();
  for await (const entry of readEntries(path)) {
    if (entry.type === 'file') {
      let size = 0;
      const hash = createHash('sha256');
      for await (const chunk of entry.body) {
        size += (chunk as Buffer).length;
        hash.update(chunk as Buffer);
      }
      expect(size).toBe(entry.size);
      hashes.set(entry.path, hash.digest('hex'));
    }
    entries.set(entry.path, entry);
  }
  return { entries, hashes };
}

describe('real ReproZip packages', () => {
  it(`finds packages in ${examplesDir}`, () => {
    if (packages.length === 0) {
      throw new Error(
        `No .rpz packages in ${examplesDir}: run scripts/make-examples.sh (or set REPROSERVER_EXAMPLES_DIR).`
      );
    }
  });

  const absoluteSymlinks: string[] = [];

  describe.each(packages.length > 0 ? packages : ['(none)'])('%s', name => {
    const path = join(examplesDir, name);
    const manifestPath = path.replace(/\.rpz$/, '.json');
    const manifest = existsSync(manifestPath)
      ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest)
      : null;
    let model: PackageModel;
    let entries: Map<string, FsEntry>;
    let hashes: Map<string, string>;

    beforeAll(async () => {
      if (name === '(none)') {
        throw new Error(`No .rpz packages in ${examplesDir}.`);
      }
      model = await readPackage(path);
      ({ entries, hashes } = await entriesOf(path));
    }, 120_000);

    it('is a version 2 package with well-formed runs', () => {
      expect(model.format).toBe(2);
      expect(model.container).toBe('v2-tar');
      expect(model.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(model.runs.length).toBeGreaterThan(0);
      for (const run of model.runs) {
        expect(run.argv.length).toBeGreaterThan(0);
        expect(run.binary.startsWith('/')).toBe(true);
        expect(run.workingdir.startsWith('/')).toBe(true);
        expect(Number.isInteger(run.uid) && run.uid >= 0).toBe(true);
        expect(Object.keys(run.environ).length).toBeGreaterThan(0);
        expect(run.architecture).toBeTruthy();
      }
      expect(JSON.parse(JSON.stringify(model))).toEqual(model);
    });

    it('has inputs and outputs that resolve to runs, and inputs that are packed', () => {
      for (const file of model.files) {
        expect(file.path.startsWith('/')).toBe(true);
        for (const index of [...file.readBy, ...file.writtenBy]) {
          expect(model.runs[index]).toBeDefined();
        }
        if (file.readBy.length > 0 && file.writtenBy.length === 0) {
          expect(entries.has(file.path.slice(1))).toBe(true);
        }
      }
    });

    it('has a readable trace that agrees with the runs', () => {
      expect(model.trace.status).toBe('ok');
      if (model.trace.status === 'ok') {
        expect(model.trace.runs.map(r => r.run)).toEqual(
          model.runs.map((_r, i) => i)
        );
        for (const run of model.trace.runs) {
          expect(run.processes).toBeGreaterThan(0);
          expect(run.programs.length).toBeGreaterThan(0);
        }
      }
    });

    it('streams every packed file the config lists', () => {
      const listed = [
        ...model.otherFiles,
        ...model.packages.filter(p => p.packfiles).flatMap(p => p.files)
      ];
      expect(listed.length).toBeGreaterThan(0);
      // The root itself ("/", listed by packages that read it) is the archive, not an entry.
      const missing = listed.filter(
        p => p !== '/' && !entries.has(p.replace(/^\/+/, ''))
      );
      expect(missing).toEqual([]);
    });

    it('keeps symlink targets verbatim and strips DATA/ from hard-link targets (checked against tar-stream)', async () => {
      const truth = await oracle(path);
      // Same set of entries (the root DATA directory aside).
      expect([...entries.keys()].sort()).toEqual(
        [...truth.keys()]
          .filter(n => n !== 'DATA')
          .map(n => n.slice('DATA/'.length))
          .sort()
      );
      for (const entry of entries.values()) {
        const expected = truth.get(`DATA/${entry.path}`);
        if (entry.type === 'symlink') {
          expect(expected).toEqual({ type: 'symlink', linkname: entry.target });
          if (entry.target.startsWith('/')) {
            absoluteSymlinks.push(`${name}: ${entry.path} -> ${entry.target}`);
          }
        }
        if (entry.type === 'hardlink') {
          expect(expected?.type).toBe('link');
          expect(entry.target.startsWith('DATA/')).toBe(false);
          expect(`DATA/${entry.target}`).toBe(expected?.linkname);
          expect(entries.get(entry.target)?.type).toBe('file');
        }
      }
    }, 120_000);

    if (manifest !== null) {
      it('matches what make-examples.sh recorded (runs, inputs/outputs, links, input contents)', () => {
        expect(model.configVersion).toBe(manifest.package.config_version);
        expect(
          model.runs.map(r => ({
            id: r.id,
            binary: r.binary,
            argv: r.argv,
            workingdir: r.workingdir,
            uid: r.uid,
            gid: r.gid,
            exitcode: r.exitcode,
            architecture: r.architecture,
            distribution:
              r.distribution === null
                ? null
                : [r.distribution.name, r.distribution.version]
          }))
        ).toEqual(manifest.package.runs);
        const byName = (a: { name: string }, b: { name: string }): number =>
          a.name < b.name ? -1 : 1;
        expect([...model.files].sort(byName)).toEqual(
          manifest.inputs_outputs
            .map(f => ({
              name: f.name,
              path: f.path,
              readBy: f.read_by_runs,
              writtenBy: f.written_by_runs
            }))
            .sort(byName)
        );
        expect(model.packages.map(p => p.name).sort()).toEqual(
          [...manifest.package.packages].sort()
        );
        expect(entries.size).toBe(manifest.package.data_members);
        for (const [inputName, { sha256 }] of Object.entries(
          manifest.inputs ?? {}
        )) {
          const file = model.files.find(f => f.name === inputName);
          expect(file).toBeDefined();
          // An input may be reached through a symlink; follow one level to the packed file.
          let packed = file!.path.slice(1);
          const entry = entries.get(packed);
          if (entry?.type === 'symlink') {
            packed = entry.target.startsWith('/')
              ? entry.target.slice(1)
              : join(packed, '..', entry.target);
          }
          if (entry?.type === 'hardlink') {
            packed = entry.target;
          }
          expect(hashes.get(packed)).toBe(sha256);
        }
        for (const [link, target] of Object.entries(
          manifest.links?.symlinks ?? {}
        )) {
          expect(entries.get(link.slice(1))).toMatchObject({
            type: 'symlink',
            target
          });
        }
        for (const pair of manifest.links?.hardlinks ?? []) {
          const kinds = pair.map(p => entries.get(p.slice(1)));
          const link = kinds.find(e => e?.type === 'hardlink');
          const file = kinds.find(e => e?.type === 'file');
          expect(link).toBeDefined();
          expect(file).toBeDefined();
          expect(link).toMatchObject({ target: file!.path });
        }
      });
    }
  });

  afterAll(() => {
    // Every Debian-based package holds at least the absolute ld.so link; if none was seen, the
    // verbatim check above did not check anything.
    if (packages.length > 0) {
      expect(absoluteSymlinks.length).toBeGreaterThan(0);
    }
  });
});
