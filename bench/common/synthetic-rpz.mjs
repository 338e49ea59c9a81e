/**
 * Writing generated ReproZip packages for benchmarks: tar entries with backpressure, and a v2
 * package around a DATA.tar.gz (with one run, `sh run.sh` in /bench). What goes in the data is
 * each benchmark's own business.
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

const serverDir = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../server'
);

/** tar-stream, from the server's dependencies. */
export const tar = createRequire(join(serverDir, 'package.json'))('tar-stream');

/** Writes chunks into a tar-stream entry, waiting for the pack to drain. */
export async function writeEntry(pack, header, chunks = []) {
  const entry = pack.entry(header);
  for (const chunk of chunks) {
    if (!entry.write(chunk)) {
      await new Promise(r => entry.once('drain', r));
    }
  }
  await new Promise((res, rej) => entry.end(err => (err ? rej(err) : res())));
}

/** Writes a plain (uncompressed outer tar) v2 package holding `dataPath` as its DATA.tar.gz. */
export async function wrapInPackage(dataPath, rpzPath) {
  const pack = tar.pack();
  const done = pipeline(pack, createWriteStream(rpzPath));
  const meta = { mode: 0o644, uid: 0, gid: 0, mtime: new Date() };
  const entry = pack.entry({
    ...meta,
    name: 'DATA.tar.gz',
    size: statSync(dataPath).size
  });
  await pipeline(createReadStream(dataPath), entry);
  const version = Buffer.from('REPROZIP VERSION 2\n');
  await writeEntry(
    pack,
    { ...meta, name: 'METADATA/version', size: version.length },
    [version]
  );
  const config = Buffer.from(
    'version: "0.8"\nruns:\n- {argv: [sh, run.sh], binary: /bin/sh, workingdir: /bench, uid: 1000, gid: 1000, ' +
      'environ: {PATH: /bin}, exitcode: 0, architecture: x86_64, distribution: [debian, "12"]}\n' +
      'inputs_outputs: []\npackages: []\nother_files: [/bench]\n'
  );
  await writeEntry(
    pack,
    { ...meta, name: 'METADATA/config.yml', size: config.length },
    [config]
  );
  pack.finalize();
  await done;
}
