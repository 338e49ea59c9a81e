/**
 * The image builder against the real dockerd and registry (`.state/services.env`): image content
 * versus the package's entry stream, the cache (engine, registry), single-flight, and failures.
 * Every image goes to a repository unique to this run and is removed afterwards (the registry
 * keeps its copies: the project's registry data is scratch).
 */
import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import {
  buildImage,
  BuildError,
  LABELS,
  BUILDER_VERSION,
  imageRef,
  type BuildEvent,
  type BuildOptions,
  type BuildResult
} from '../../../src/build';
import { followEngineStream } from '../../../src/build/engine-stream';
import { readPackage, RpzError } from '../../../src/rpz';
import {
  BASIC_CONFIG,
  basicData,
  tarStreamBuffer,
  tempFolder,
  writeRpz,
  type Member
} from '../../helpers/synthetic-rpz';
import {
  created,
  imageTree,
  packageTree,
  removeImages,
  testDocker,
  treeDifferences,
  uniqueRepository
} from './image-content';
import { podmanSocket } from '../../helpers/docker-run';

jest.setTimeout(120_000);

const examplesDir = resolve(__dirname, '../../../../.state/examples');
const socket = process.env.DOCKER_SOCKET ?? '';
const registry = process.env.REGISTRY ?? '';
const docker = testDocker();
const repository = uniqueRepository();
const built = new Set<string>();
const folder = tempFolder();

afterAll(async () => {
  await removeImages(docker, built);
  folder.cleanup();
});

interface Run {
  result: BuildResult;
  events: BuildEvent[];
  phases: string[];
}

async function build(
  path: string,
  options: Partial<BuildOptions> = {}
): Promise<Run> {
  const events: BuildEvent[] = [];
  const result = await buildImage(path, {
    dockerSocket: socket,
    registry,
    repository,
    onEvent: e => events.push(e),
    ...options
  });
  built.add(result.image);
  return {
    result,
    events,
    phases: events.flatMap(e => (e.type === 'phase' ? [e.phase] : []))
  };
}

/** Synthetic data with owners, setuid, sticky, links, plus a nonce so the sha256 is this run's. */
function richData(): Member[] {
  return [
    ...basicData(),
    { name: 'DATA/tmp', type: 'directory', mode: 0o1777 },
    {
      name: 'DATA/home/ana/private',
      type: 'directory',
      mode: 0o700,
      uid: 1000,
      gid: 1000
    },
    {
      name: 'DATA/home/ana/private/key',
      content: 'secret\n',
      mode: 0o600,
      uid: 1000,
      gid: 1000
    },
    {
      name: 'DATA/usr/bin/sudo-like',
      content: 'x',
      mode: 0o6750,
      uid: 0,
      gid: 27
    },
    {
      name: 'DATA/home/ana/nonce.txt',
      content: randomBytes(16).toString('hex'),
      uid: 1000,
      gid: 1000
    },
    { name: 'DATA/home/ana/rel-link', type: 'symlink', linkname: '../../tmp' }
  ];
}

async function expectSameContent(path: string, image: string): Promise<void> {
  const [expected, actual] = await Promise.all([
    packageTree(path),
    imageTree(docker, image)
  ]);
  expect(treeDifferences(expected, actual)).toEqual([]);
}

describe('image content', () => {
  it.each(['links.rpz', 'python-options.rpz'])(
    'holds exactly the files of the real package %s',
    async name => {
      const path = join(examplesDir, name);
      expect(existsSync(path)).toBe(true);
      const { result } = await build(path, { registry: undefined });
      expect(result.source).toBe('built');
      await expectSameContent(path, result.image);
      const info = await docker.getImage(result.image).inspect();
      expect(info.RootFS.Layers).toHaveLength(1);
      expect(info.Config.Cmd ?? null).toBeNull();
      expect(info.Config.Entrypoint ?? null).toBeNull();
      expect(info.Config.Labels).toEqual({
        [LABELS.packageSha256]: result.packageSha256,
        [LABELS.builderVersion]: String(BUILDER_VERSION)
      });
      expect(result.image).toBe(
        `${repository}:${result.packageSha256}-b${BUILDER_VERSION}`
      );
    }
  );

  it('keeps owners, setuid/setgid/sticky modes, hard links and symlinks verbatim', async () => {
    const path = await writeRpz(folder, 'rich.rpz', { data: richData() });
    const { result } = await build(path, { registry: undefined });
    await expectSameContent(path, result.image);
    const tree = await imageTree(docker, result.image);
    expect(tree.get('usr/bin/python3')?.mode).toBe(0o4755);
    expect(tree.get('usr/bin/sudo-like')).toMatchObject({
      mode: 0o6750,
      gid: 27
    });
    expect(tree.get('tmp')?.mode).toBe(0o1777);
    expect(tree.get('home/ana/private/key')).toMatchObject({
      mode: 0o600,
      uid: 1000,
      gid: 1000
    });
    expect(tree.get('etc/alternatives/python')?.target).toBe(
      '/usr/bin/python3'
    );
    expect(tree.get('bin')).toMatchObject({
      type: 'symlink',
      target: 'usr/bin'
    });
  });
  it.each(['v1', 'v2-gzip'] as const)(
    'builds a %s package the same way',
    async layout => {
      const path = await writeRpz(folder, `${layout}.rpz`, {
        layout,
        data: richData()
      });
      const { result } = await build(path, { registry: undefined });
      await expectSameContent(path, result.image);
    }
  );
});

describe('cache', () => {
  it('finds the image locally, then in the registry, and never rebuilds', async () => {
    const path = await writeRpz(folder, 'cache.rpz', { data: richData() });
    const first = await build(path);
    expect(first.result).toMatchObject({ source: 'built', pushed: true });
    expect(first.phases).toEqual([
      'checking-cache',
      'building',
      'pushing',
      'done'
    ]);
    expect(first.result.image.startsWith(`${registry}/${repository}:`)).toBe(
      true
    );
    const progress = first.events.filter(
      e => e.type === 'progress' && e.phase === 'building'
    );
    expect(progress.at(-1)).toMatchObject({ entries: expect.any(Number) });
    const when = await created(docker, first.result.image);

    const second = await build(path);
    expect(second.result).toMatchObject({
      source: 'local',
      imageId: first.result.imageId
    });
    expect(second.phases).toEqual(['checking-cache', 'done']);
    expect(await created(docker, first.result.image)).toBe(when);

    await removeImages(docker, [first.result.image]);
    const third = await build(path);
    expect(third.result).toMatchObject({
      source: 'registry',
      imageId: first.result.imageId,
      pushed: false
    });
    expect(third.phases).toEqual(['checking-cache', 'pulling', 'done']);
    expect(await created(docker, first.result.image)).toBe(when);
  });

  it('pulls by the digest it recorded: a tag overwritten in the registry changes nothing', async () => {
    const path = await writeRpz(folder, 'pinned.rpz', { data: richData() });
    const first = await build(path);
    expect(first.result.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Someone who can push to the registry puts another image under the same tag.
    const other = await build(
      await writeRpz(folder, 'impostor.rpz', { data: richData() }),
      { registry: undefined }
    );
    const at = first.result.image.lastIndexOf(':');
    const [name, tag] = [
      first.result.image.slice(0, at),
      first.result.image.slice(at + 1)
    ];
    await removeImages(docker, [first.result.image]);
    await docker.getImage(other.result.imageId).tag({ repo: name, tag });
    await followEngineStream(
      (await docker
        .getImage(name)
        .push({ tag, authconfig: {} })) as unknown as Readable
    );
    await removeImages(docker, [first.result.image]);

    const pinned = await build(path, { digest: first.result.digest });
    expect(pinned.result).toMatchObject({
      source: 'registry',
      imageId: first.result.imageId,
      digest: first.result.digest
    });
    await expectSameContent(path, pinned.result.image);

    // What a pull by tag would have run instead.
    await removeImages(docker, [first.result.image]);
    const byTag = await build(path);
    expect(byTag.result.imageId).toBe(other.result.imageId);
    expect(byTag.result.digest).not.toBe(first.result.digest);
  });

  it('runs one build for concurrent requests of one package', async () => {
    const path = await writeRpz(folder, 'concurrent.rpz', { data: richData() });
    const since = Math.floor(Date.now() / 1000) - 1;
    const runs = await Promise.all([
      build(path, { registry: undefined }),
      build(path, { registry: undefined }),
      build(path, { registry: undefined })
    ]);
    expect(runs.map(r => r.result.joined).sort()).toEqual([false, true, true]);
    expect(new Set(runs.map(r => r.result.imageId)).size).toBe(1);
    for (const run of runs) {
      expect(run.phases).toEqual(['checking-cache', 'building', 'done']);
    }
    // The engine's own record: one import of that image.
    const stream = (await docker.getEvents({
      since,
      until: Math.ceil(Date.now() / 1000) + 1,
      filters: { type: ['image'], event: ['import'] }
    })) as unknown as Readable;
    let imports = 0;
    for await (const chunk of stream) {
      for (const line of String(chunk).split('\n')) {
        if (line.trim() !== '') {
          const event = JSON.parse(line) as { id?: string };
          if (event.id === runs[0].result.imageId) {
            imports++;
          }
        }
      }
    }
    expect(imports).toBe(1);
  });
});

describe('failures', () => {
  it('reports a missing Docker socket at once', async () => {
    const path = join(examplesDir, 'links.rpz');
    const start = Date.now();
    const events: BuildEvent[] = [];
    const error = await buildImage(path, {
      dockerSocket: join(folder.dir, 'no-docker.sock'),
      onEvent: e => events.push(e)
    }).catch((e: unknown) => e);
    expect(Date.now() - start).toBeLessThan(3000);
    expect(error).toBeInstanceOf(BuildError);
    expect(error).toMatchObject({ code: 'docker-unavailable' });
    expect((error as Error).message).toMatch(
      /^Docker is not available \(no daemon at .*no-docker\.sock\); start the Docker Engine/
    );
    expect(events.at(-1)).toMatchObject({
      type: 'error',
      code: 'docker-unavailable'
    });
  });

  it('gives up on a daemon that does not answer, without hanging', async () => {
    const path = join(examplesDir, 'links.rpz');
    const silent = join(folder.dir, 'silent.sock');
    const server: Server = createServer(() => undefined);
    await new Promise<void>(r => server.listen(silent, r));
    try {
      const start = Date.now();
      const error = await buildImage(path, {
        dockerSocket: silent,
        pingTimeoutMs: 1000
      }).catch((e: unknown) => e);
      expect(Date.now() - start).toBeLessThan(3000);
      expect(error).toMatchObject({ code: 'docker-unavailable' });
      expect((error as Error).message).toMatch(/did not answer in 1000 ms/);
    } finally {
      server.close();
    }
  });

  it('builds locally with a warning when the registry is down', async () => {
    const closed = await new Promise<number>(r => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => r(port));
      });
    });
    const path = await writeRpz(folder, 'no-registry.rpz', {
      data: richData()
    });
    const run = await build(path, { registry: `127.0.0.1:${closed}` });
    expect(run.result).toMatchObject({ source: 'built', pushed: false });
    expect(run.phases).toEqual(['checking-cache', 'building', 'done']);
    expect(run.result.warnings).toEqual([
      expect.stringMatching(
        new RegExp(
          `^The registry 127\\.0\\.0\\.1:${closed} cannot be used \\(.*connection refused.*\\); building locally`
        )
      )
    ]);
  });

  it('refuses packages whose package files were left out, listing them', async () => {
    const config = BASIC_CONFIG.replace(
      'packfiles: true',
      'packfiles: false'
    ).replace(
      'packages:\n',
      'packages:\n  - name: "libfoo1"\n    version: "1.2-3"\n    size: 10\n    packfiles: false\n    files: ["/usr/lib/libfoo.so.1"]\n'
    );
    const path = await writeRpz(folder, 'unpacked.rpz', {
      config,
      data: richData()
    });
    const error = await build(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildError);
    expect(error).toMatchObject({ code: 'missing-packages' });
    expect((error as Error).message).toBe(
      'The package left out the files of 2 distribution packages (libfoo1 1.2-3, python3 3.10); give a base image that provides them (--base-image, option baseImage).'
    );
  });

  it('builds such a package on a base image, keeping both', async () => {
    const basePath = await writeRpz(folder, 'base.rpz', {
      data: [
        { name: 'DATA/usr', type: 'directory' },
        { name: 'DATA/usr/lib', type: 'directory' },
        { name: 'DATA/usr/lib/libfoo.so.1', content: 'foo', mode: 0o755 },
        { name: 'DATA/home', type: 'directory' },
        { name: 'DATA/home/ana', type: 'directory', mode: 0o755 },
        { name: 'DATA/home/ana/in.txt', content: 'old input\n' }
      ]
    });
    const base = await build(basePath, { registry: undefined });
    const config = BASIC_CONFIG.replace('packfiles: true', 'packfiles: false');
    const path = await writeRpz(folder, 'on-base.rpz', {
      config,
      data: richData()
    });
    const run = await build(path, {
      registry: undefined,
      baseImage: base.result.image
    });
    expect(run.result.source).toBe('built');
    expect(run.result.image).toMatch(/-b\d+-base-[0-9a-f]{16}$/);
    const [expected, baseTree, actual] = await Promise.all([
      packageTree(path),
      imageTree(docker, base.result.image),
      imageTree(docker, run.result.image)
    ]);
    // The package's entries win over the base's; the base's other files stay.
    expect(
      treeDifferences(expected, actual, { allowExtra: p => baseTree.has(p) })
    ).toEqual([]);
    expect(actual.get('usr/lib/libfoo.so.1')?.sha256).toBe(
      baseTree.get('usr/lib/libfoo.so.1')?.sha256
    );
    const info = await docker.getImage(run.result.image).inspect();
    expect(info.Config.Cmd ?? []).toEqual([]);
    expect(info.Config.Labels).toMatchObject({
      [LABELS.baseImage]: base.result.image,
      [LABELS.baseImageId]: base.result.imageId
    });
  });

  it('passes the reader error through for data damaged mid-stream, leaving no image', async () => {
    const tarBytes = await tarStreamBuffer([
      { name: 'DATA', type: 'directory' },
      ...richData()
    ]);
    // The metadata is fine (it is read first); the data tar stops in the middle of a body.
    const path = await writeRpz(folder, 'damaged.rpz', {
      dataTar: tarBytes.subarray(0, tarBytes.length - 3000)
    });
    const events: BuildEvent[] = [];
    const error = await build(path, {
      registry: undefined,
      onEvent: e => events.push(e)
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpzError);
    expect(events.at(-1)).toMatchObject({
      type: 'error',
      code: (error as RpzError).code
    });
    expect(events.map(e => e.type === 'phase' && e.phase)).toContain(
      'building'
    );
    const { sha256 } = await readPackage(path);
    const ref = imageRef({ sha256: sha256 ?? '', repository });
    await expect(
      docker.getImage(ref.reference).inspect()
    ).rejects.toMatchObject({ statusCode: 404 });
  });

  it('refuses a package traced on another architecture', async () => {
    const config = BASIC_CONFIG.replace(
      'architecture: x86_64',
      'architecture: aarch64'
    );
    const path = await writeRpz(folder, 'arm.rpz', { config });
    await expect(build(path)).rejects.toMatchObject({
      code: 'unsupported-architecture',
      message:
        'The package was traced on aarch64, which this Docker Engine (x86_64) cannot run; use a host of that architecture.'
    });
  });
});

describe('cache on rootless Podman', () => {
  // Podman's compatible API tags imports and reports pushed digests its own way
  // (`podman-quirks.ts`): the same cycle as on Docker, through the same registry.
  const podman = new Docker({ socketPath: podmanSocket() });
  const podmanBuilt = new Set<string>();
  afterAll(() => removeImages(podman, podmanBuilt));

  it('builds, pushes with a digest, finds the image locally, then pulls it by that digest', async () => {
    const path = await writeRpz(folder, 'podman-cache.rpz', {
      data: richData()
    });
    const onPodman = (digest?: string) =>
      buildImage(path, {
        dockerSocket: podmanSocket(),
        registry,
        repository: `${repository}-podman`,
        ...(digest ? { digest } : {})
      });
    const first = await onPodman();
    podmanBuilt.add(first.image);
    expect(first).toMatchObject({
      source: 'built',
      pushed: true,
      digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/)
    });
    expect(first.image).toMatch(
      new RegExp(`^${registry}/${repository}-podman:[0-9a-f]{64}-b\\d+$`)
    );
    // The image carries the tag asked for, not `latest`.
    expect((await podman.getImage(first.image).inspect()).Id).toBe(
      first.imageId
    );
    expect(await onPodman()).toMatchObject({
      source: 'local',
      imageId: first.imageId
    });
    await removeImages(podman, [first.image]);
    expect(await onPodman(first.digest)).toMatchObject({
      source: 'registry',
      imageId: first.imageId,
      digest: first.digest
    });
  });
});
