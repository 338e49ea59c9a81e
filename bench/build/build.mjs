#!/usr/bin/env node
/**
 * Benchmark of the image builder (server/src/build) against two floors, and of the ways to make an
 * image that it did not choose.
 *
 *   cd server && npx tsc -p tsconfig.build.json && cd .. && \
 *     set -a && . .state/services.env && set +a && node bench/build/build.mjs
 *
 * BUILD_BENCH_MIB sets the generated package's data size (default 1024; e.g. 128 for a quick run).
 * BUILD_BENCH_RUNS sets how many times each timing is repeated (best kept; default 2).
 * BUILD_BENCH_REAL names the real package to time too (default .state/examples/python-options.rpz).
 * Needs DOCKER_SOCKET (a running dockerd). Generated files go to a temporary folder and images to
 * a repository of their own; both are removed at the end.
 *
 * For each package, each timing in a fresh Node process (so its peak RSS is its own):
 * - floor 1: `gzip -dc DATA.tar.gz | tar -x -C DIR` (the data unpacked, nothing else);
 * - floor 2: the engine's own `docker import` of DATA.tar.gz, streamed from the file through the
 *   API (`POST /images/create?fromSrc=-`): the engine decompresses and unpacks (target ≤ 1.25×);
 * - A: `buildImage` (what the builder does: hash the package, read it, stream the generated tar
 *   into `docker import`), cold (no image in the engine, no registry); also with the sha256
 *   already known (as when the server hashed the upload), and its peak RSS (target < 150 MiB);
 * - B: a build context (`Dockerfile` `FROM scratch` + `COPY rootfs/ /` + the tree below `rootfs/`)
 *   streamed to `POST /build` (the classic builder);
 * - C: a container created from an empty image, `PUT /containers/{id}/archive` of the tar at `/`,
 *   then commit.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { tar, wrapInPackage, writeEntry } from '../common/synthetic-rpz.mjs';
import { best } from '../common/timing.mjs';
import { createGzip } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const serverDir = join(root, 'server');
const dist = join(serverDir, 'dist');

const MIB = 1024 * 1024;
const sizeMib = Number(process.env.BUILD_BENCH_MIB ?? 1024);
const runs = Math.max(1, Number(process.env.BUILD_BENCH_RUNS ?? 2));
const realPackage =
  process.env.BUILD_BENCH_REAL ??
  join(root, '.state/examples/python-options.rpz');
const socket = process.env.DOCKER_SOCKET;

if (!existsSync(join(dist, 'build/index.js'))) {
  console.error(
    `Build the server first: cd server && npx tsc -p tsconfig.build.json (${dist}/build/index.js is missing).`
  );
  process.exit(2);
}
if (!socket) {
  console.error(
    'DOCKER_SOCKET is not set: set -a && . .state/services.env && set +a'
  );
  process.exit(2);
}

const repository = `reproserver-bench-${process.pid}/rpz`;
const work = mkdtempSync(join(tmpdir(), 'build-bench-'));

/**
 * DATA.tar.gz of about `mib` MiB: files of 4 KiB to 32 MiB, half of each file random bytes, half
 * hex text (compresses ~2×), plus directories with several owners, symlinks and hard links.
 */
async function makeDataTarGz(path, mib) {
  const random = randomBytes(8 * MIB);
  const text = Buffer.from(randomBytes(4 * MIB).toString('hex'));
  const pack = tar.pack();
  const done = pipeline(
    pack,
    createGzip({ level: 1 }),
    createWriteStream(path)
  );
  const meta = {
    mode: 0o644,
    uid: 1000,
    gid: 1000,
    mtime: new Date(1700000000000)
  };
  await writeEntry(pack, {
    ...meta,
    name: 'DATA',
    type: 'directory',
    mode: 0o755,
    uid: 0,
    gid: 0
  });
  let left = mib * MIB;
  let offset = 0;
  for (let d = 0; left > 0; d++) {
    const dir = `DATA/bench/d${d}`;
    if (d === 0) {
      await writeEntry(pack, {
        ...meta,
        name: 'DATA/bench',
        type: 'directory',
        mode: 0o755
      });
    }
    await writeEntry(pack, {
      ...meta,
      name: dir,
      type: 'directory',
      mode: 0o750
    });
    for (let i = 0; i < 64 && left > 0; i++) {
      // Sizes cycle from 4 KiB to 32 MiB: many small files, most bytes in big ones.
      const size = Math.min(left, 4096 * 2 ** (i % 14));
      const chunks = [];
      for (let done = 0; done < size;) {
        const source = (done / MIB) % 2 < 1 ? random : text;
        const start = offset % (source.length - MIB);
        const n = Math.min(MIB, size - done);
        chunks.push(source.subarray(start, start + n));
        offset += 4099;
        done += n;
      }
      const name = `${dir}/f${i}.bin`;
      await writeEntry(
        pack,
        { ...meta, name, size, mode: i % 5 === 0 ? 0o755 : 0o644 },
        chunks
      );
      if (i % 16 === 3) {
        await writeEntry(pack, {
          ...meta,
          name: `${name}.hard`,
          type: 'link',
          linkname: name
        });
        await writeEntry(pack, {
          ...meta,
          name: `${name}.sym`,
          type: 'symlink',
          linkname: `/bench/d${d}/f${i}.bin`
        });
      }
      left -= size;
    }
  }
  pack.finalize();
  await done;
}

/**
 * Runs an async Node snippet (body of an async function) in a fresh process and returns its JSON
 * plus the time it took and the process's peak RSS. `setup` runs first, untimed (module loading).
 */
function node(body, setup = '') {
  const code = `
    const dist = ${JSON.stringify(dist)};
    const socket = ${JSON.stringify(socket)};
    const repository = ${JSON.stringify(repository)};
    ${setup}
    (async () => {
      const t = process.hrtime.bigint();
      const extra = await (async () => { ${body} })();
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      console.log(JSON.stringify({ ms, maxRssMiB: process.resourceUsage().maxRSS / 1024, ...extra }));
    })().catch(e => { console.error(e); process.exit(1); });`;
  const out = execFileSync(process.execPath, ['-e', code], {
    encoding: 'utf8',
    maxBuffer: 16 * MIB
  });
  return JSON.parse(out.trim().split('\n').pop());
}

/** Removes an image by reference (and its untagged parents), ignoring a missing one. */
function removeImage(reference) {
  node(`
    const docker = require(dist + '/backends/docker/client.js').dockerClient(socket);
    await docker.getImage(${JSON.stringify(reference)}).remove({ force: true }).catch(() => undefined);
    return {};`);
}

function tag(name) {
  return `${repository}:${name}`;
}

/** Modules the alternative approaches use, loaded before their timer starts. */
const common = `
  const docker = require(dist + '/backends/docker/client.js').dockerClient(socket);
  const { rootfsTar } = require(dist + '/build/rootfs-tar.js');
  const { commitRootfs } = require(dist + '/build/commit.js');
  const { followEngineStream } = require(dist + '/build/engine-stream.js');
  const { readEntries } = require(dist + '/rpz/index.js');
  const tarStream = require('node:module').createRequire(dist + '/../package.json')('tar-stream');
  const { PassThrough } = require('node:stream');`;

const timings = {
  floorTar(dataPath) {
    const dir = join(work, 'extract');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const t = process.hrtime.bigint();
    const result = spawnSync(
      'sh',
      ['-c', `gzip -dc "${dataPath}" | tar -x -C "${dir}"`],
      { stdio: 'inherit' }
    );
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (result.status !== 0) {
      throw new Error('gzip -dc | tar -x failed');
    }
    rmSync(dir, { recursive: true, force: true });
    return { ms };
  },
  floorImport(dataPath) {
    const reference = tag('floor');
    const r = node(
      `
      const q = new URLSearchParams({ fromSrc: '-', repo: ${JSON.stringify(repository)}, tag: 'floor' });
      await new Promise((resolve, reject) => {
        const req = request({ socketPath: socket, method: 'POST', path: '/images/create?' + q,
          headers: { 'Content-Type': 'application/tar' } }, res => {
          let body = '';
          res.on('data', c => (body += c));
          res.on('end', () => (/"error"/.test(body) || res.statusCode !== 200 ? reject(new Error(body)) : resolve()));
        });
        req.on('error', reject);
        pipeline(createReadStream(${JSON.stringify(dataPath)}, { highWaterMark: 1 << 20 }), req).catch(reject);
      });
      return {};`,
      `const { request } = require('node:http');
       const { createReadStream } = require('node:fs');
       const { pipeline } = require('node:stream/promises');`
    );
    removeImage(reference);
    return r;
  },
  builder(rpzPath, knownSha) {
    const r = node(
      `
      const result = await buildImage(${JSON.stringify(rpzPath)}, {
        dockerSocket: socket, repository, ${knownSha ? `sha256: ${JSON.stringify(knownSha)}` : ''}
      });
      if (result.source !== 'built') throw new Error('not a cold build: ' + result.source);
      return { image: result.image, sha256: result.packageSha256 };`,
      `const { buildImage } = require(dist + '/build/index.js');`
    );
    removeImage(r.image);
    return r;
  },
  context(rpzPath) {
    const reference = tag('context');
    const r = node(
      `
      // The context: the Dockerfile first, then the rootfs tree; one tar, streamed.
      const out = new PassThrough({ highWaterMark: 1 << 20 });
      const head = tarStream.pack();
      head.entry({ name: 'Dockerfile' }, 'FROM scratch\\nCOPY rootfs/ /\\n');
      head.finalize();
      (async () => {
        const chunks = [];
        for await (const chunk of head) chunks.push(chunk);
        // Drop the two zero blocks that end the first archive, so the tree follows on.
        out.write(Buffer.concat(chunks).subarray(0, -1024));
        const { tar } = rootfsTar(readEntries(${JSON.stringify(rpzPath)}), { prefix: 'rootfs/' });
        tar.pipe(out);
      })().catch(e => out.destroy(e));
      const stream = await docker.buildImage(out, { t: ${JSON.stringify(reference)}, rm: true, forcerm: true });
      await followEngineStream(stream);
      return {};`,
      common
    );
    removeImage(reference);
    return r;
  },
  commit(rpzPath) {
    const reference = tag('commit');
    const empty = tag('empty');
    // The empty image is made once, outside the timing.
    node(
      `
      const docker = require(dist + '/backends/docker/client.js').dockerClient(socket);
      const { followEngineStream } = require(dist + '/build/engine-stream.js');
      const pack = tarStream.pack(); pack.finalize();
      await followEngineStream(await docker.importImage(pack, { repo: ${JSON.stringify(repository)}, tag: 'empty' }));
      return {};`,
      common
    );
    const r = node(
      `
      const { tar } = rootfsTar(readEntries(${JSON.stringify(rpzPath)}));
      await commitRootfs(docker, tar, { baseImage: ${JSON.stringify(empty)}, repository: ${JSON.stringify(repository)}, tag: 'commit', labels: {} });
      return {};`,
      common
    );
    removeImage(reference);
    removeImage(empty);
    return r;
  }
};

function warm(path) {
  spawnSync('sh', ['-c', `cat "${path}" > /dev/null`]);
}

function measure(label, rpzPath, dataPath) {
  warm(rpzPath);
  warm(dataPath);
  const rows = [];
  const floorTar = best(() => timings.floorTar(dataPath), runs);
  const floorImport = best(() => timings.floorImport(dataPath), runs);
  const a = best(() => timings.builder(rpzPath), runs);
  const aKnown = best(() => timings.builder(rpzPath, a.sha256), runs);
  const b = best(() => timings.context(rpzPath), runs);
  const c = best(() => timings.commit(rpzPath), runs);
  rows.push(['floor: gzip -dc | tar -x', floorTar]);
  rows.push(['floor: engine import of DATA.tar.gz', floorImport]);
  rows.push(['A: buildImage (import, cold, hashes)', a]);
  rows.push(['A: buildImage, sha256 known', aKnown]);
  rows.push(['B: build context, COPY rootfs/', b]);
  rows.push(['C: empty image + putArchive + commit', c]);
  console.log(
    `\n${label}: ${(statSync(rpzPath).size / MIB).toFixed(1)} MiB package, ` +
      `${(statSync(dataPath).size / MIB).toFixed(1)} MiB DATA.tar.gz (best of ${runs})`
  );
  console.log(
    `${'what'.padEnd(40)} ${'seconds'.padStart(8)} ${'× import'.padStart(9)} ${'× tar -x'.padStart(9)} ${'peak RSS'.padStart(10)}`
  );
  for (const [name, r] of rows) {
    const rss =
      r.maxRssMiB !== undefined ? `${r.maxRssMiB.toFixed(0)} MiB` : '';
    console.log(
      `${name.padEnd(40)} ${(r.ms / 1000).toFixed(2).padStart(8)} ${(r.ms / floorImport.ms).toFixed(2).padStart(9)} ` +
        `${(r.ms / floorTar.ms).toFixed(2).padStart(9)} ${rss.padStart(10)}`
    );
  }
  return { a, floorImport };
}

try {
  if (existsSync(realPackage)) {
    const realData = join(work, 'real-DATA.tar.gz');
    execFileSync('tar', ['-xf', realPackage, '-C', work, 'DATA.tar.gz']);
    execFileSync('mv', [join(work, 'DATA.tar.gz'), realData]);
    measure(
      `Real package ${realPackage.split('/').pop()}`,
      realPackage,
      realData
    );
  } else {
    console.log(`(no real package at ${realPackage}; skipped)`);
  }
  const dataPath = join(work, 'DATA.tar.gz');
  const rpzPath = join(work, 'generated.rpz');
  let t = Date.now();
  await makeDataTarGz(dataPath, sizeMib);
  await wrapInPackage(dataPath, rpzPath);
  console.log(
    `\nGenerated ${sizeMib} MiB of data in ${((Date.now() - t) / 1000).toFixed(1)} s.`
  );
  t = Date.now();
  const { a, floorImport } = measure(
    `Generated package (${sizeMib} MiB of data)`,
    rpzPath,
    dataPath
  );
  console.log(
    `\nTargets: A ≤ 1.25× the engine's import (${(a.ms / floorImport.ms).toFixed(2)}×: ${a.ms / floorImport.ms <= 1.25 ? 'met' : 'NOT met'}); ` +
      `peak RSS < 150 MiB (${a.maxRssMiB.toFixed(0)} MiB: ${a.maxRssMiB < 150 ? 'met' : 'NOT met'}).`
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
