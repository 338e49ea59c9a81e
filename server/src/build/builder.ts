/**
 * The image builder: turns a `.rpz` package into a Docker image that holds the package's files
 * exactly (modes, owners, symlinks, hard links) and nothing else, named by content, cached in the
 * local engine and in a registry, built once however many ask at the same time.
 *
 * How the image is made: `docker import` of a tar generated on the fly (approach A), chosen with
 * `bench/build/build.mjs` (numbers from this machine, 1 GiB of data in an 800 MiB package; the
 * floors are `gzip -dc | tar -x` 9.7 s and the engine's own import of `DATA.tar.gz` 15.2 s):
 * - A, `POST /images/create?fromSrc=-` fed by tar-stream `pack()` over `readEntries`: the engine
 *   unpacks the stream straight into the image's single layer, with no copy of the data anywhere
 *   and no decompression on its side (Node's zlib beats the engine's Go gzip). 12.8 s cold with
 *   the package hashed (0.84× the import floor), 9.1 s when the sha256 is known (0.94× tar -x);
 *   peak RSS 107 MiB.
 * - B, a build context (`FROM scratch` + `COPY rootfs/ /`) streamed to `POST /build`: the engine
 *   stores the whole context on disk before copying it into the layer: 21.4 s (1.41×); and COPY
 *   makes every file root-owned and drops setuid bits (checked), so the image would be wrong.
 * - C, container from an empty image + `PUT /containers/{id}/archive` + commit: keeps owners, but
 *   the data is written into the container layer, then walked and tarred again for the commit:
 *   14.5 s (0.95×) with the hash known, 1.6× A. Import cannot stack on a parent, so C is what the
 *   builder uses when the package needs a base image (see `commit.ts`).
 *
 * Steps: ping the engine (fail fast), read the package model, check architecture and left-out
 * packages, then under single-flight: local engine → registry pull → build → push. Progress and
 * log lines go out as `BuildEvent`s.
 */
import type Docker from 'dockerode';
import { dockerClient } from '../backends/docker/client';
import { pingDocker } from '../backends/docker/ping';
import { readEntries, readPackage, type PackageModel } from '../rpz';
import { commitRootfs } from './commit';
import { engineMessage } from './engine-stream';
import { errorMessage } from '../describe';
import { BuildError } from './errors';
import {
  stamp,
  type BuildEvent,
  type BuildEventData,
  type BuildListener,
  type BuildPhase,
  type ImageSource
} from './events';
import { BUILDER_VERSION, imageRef, LABELS, type ImageRef } from './image-ref';
import { importRootfs } from './import';
import { localImageId, pullImage, pushImage } from './registry';
import { rootfsTar, TarAbortedError } from './rootfs-tar';
import { SingleFlight } from './single-flight';

export interface BuildOptions {
  /** Unix socket of the Docker Engine. */
  dockerSocket: string;
  /** `host:port` of the registry that caches images; undefined for none. */
  registry?: string;
  /** Image repository below the registry; default `reproserver/rpz`. */
  repository?: string;
  /**
   * An image to build on, for packages whose distribution packages were left out at pack time
   * (`packfiles: false`): it must provide them. Without it such packages are refused.
   */
  baseImage?: string;
  /** The package's sha256 when the caller knows it already (skips hashing the file again). */
  sha256?: string;
  /** Receives progress and log events. */
  onEvent?: BuildListener;
  /** How long to wait for the engine to answer a ping; default 2000 ms. */
  pingTimeoutMs?: number;
}

export interface BuildResult {
  /** The image reference, `[registry/]repository:tag`. */
  image: string;
  /** The image's content id, `sha256:…`. */
  imageId: string;
  /** Whether it was found locally, pulled from the registry or built. */
  source: ImageSource;
  /** True when the image was pushed to the registry by this build. */
  pushed: boolean;
  /** True when this call waited for a build another caller had started. */
  joined: boolean;
  /** The warnings sent as events, one sentence each. */
  warnings: string[];
  /** The package's sha256 (part of the tag). */
  packageSha256: string;
}

/** What the shared part of a build produces. */
interface Outcome {
  imageId: string;
  source: ImageSource;
  pushed: boolean;
}

/** One flight per engine and image reference, shared by every builder in the process. */
const flights = new SingleFlight<Outcome, BuildEvent>();

/** How often progress events are sent at most. */
const PROGRESS_INTERVAL_MS = 250;

/** Architectures of the engine (Go names) as `uname -m` spells them. */
const ENGINE_ARCH: Record<string, string> = {
  amd64: 'x86_64',
  '386': 'i686',
  arm64: 'aarch64',
  arm: 'armv7l',
  ppc64le: 'ppc64le',
  s390x: 's390x'
};

/** What each engine architecture can run, by `uname -m` of the traced machine. */
function runnableOn(engineArch: string): Set<string> {
  if (engineArch === 'x86_64') {
    return new Set(['x86_64', 'amd64', 'i386', 'i486', 'i586', 'i686']);
  }
  return new Set([engineArch]);
}

function checkArchitecture(
  engineArch: string,
  model: PackageModel,
  log: (level: 'info' | 'warning', message: string) => void
): void {
  const traced = model.runs[0]?.architecture ?? null;
  if (traced === null) {
    log(
      'warning',
      'The package does not say which architecture it was traced on; assuming this host can run it.'
    );
    return;
  }
  const engine = ENGINE_ARCH[engineArch] ?? engineArch;
  if (!runnableOn(engine).has(traced)) {
    throw new BuildError(
      'unsupported-architecture',
      `The package was traced on ${traced}, which this Docker Engine (${engine}) cannot run; use a host of that architecture.`
    );
  }
}

function checkPackages(model: PackageModel, baseImage: string | undefined) {
  const missing = model.packages.filter(p => !p.packfiles);
  if (missing.length === 0 || baseImage !== undefined) {
    return missing;
  }
  const list = missing
    .map(p => (p.version !== '' ? `${p.name} ${p.version}` : p.name))
    .join(', ');
  throw new BuildError(
    'missing-packages',
    `The package left out the files of ${missing.length} distribution package${missing.length === 1 ? '' : 's'} (${list}); give a base image that provides them (--base-image, option baseImage).`
  );
}

/** Calls `send` at most every interval; `flush` sends the last value if it was held back. */
function throttled(send: (bytes: number, total: number) => void): {
  update(bytes: number, total: number): void;
  flush(): void;
} {
  let last = 0;
  let held: [number, number] | null = null;
  return {
    update(bytes, total) {
      const now = Date.now();
      if (now - last >= PROGRESS_INTERVAL_MS) {
        last = now;
        held = null;
        send(bytes, total);
      } else {
        held = [bytes, total];
      }
    },
    flush() {
      if (held !== null) {
        send(...held);
        held = null;
      }
    }
  };
}

/** Everything the shared part of a build needs. */
interface Plan {
  docker: Docker;
  packagePath: string;
  ref: ImageRef;
  registry: string | undefined;
  baseImage: { reference: string; id: string } | undefined;
  labels: Record<string, string>;
}

async function buildShared(
  plan: Plan,
  emit: (data: BuildEventData) => void
): Promise<Outcome> {
  const { docker, ref } = plan;
  const phase = (p: BuildPhase): void => emit({ type: 'phase', phase: p });
  const warn = (message: string): void =>
    emit({ type: 'log', level: 'warning', message });
  const info = (message: string): void =>
    emit({ type: 'log', level: 'info', message });
  const layerProgress = (p: BuildPhase) =>
    throttled((bytes, totalBytes) =>
      emit({ type: 'progress', phase: p, bytes, totalBytes, entries: 0 })
    );

  phase('checking-cache');
  const local = await localImageId(docker, ref.reference);
  if (local !== null) {
    info(`The image ${ref.reference} is already in the Docker Engine.`);
    return { imageId: local, source: 'local', pushed: false };
  }
  let registryUsable = plan.registry !== undefined;
  if (registryUsable) {
    const progress = layerProgress('pulling');
    const pulled = await pullImage(
      docker,
      ref,
      () => phase('pulling'),
      progress.update
    );
    progress.flush();
    if (pulled.status === 'pulled') {
      const id = await localImageId(docker, ref.reference);
      if (id !== null) {
        info(`Pulled ${ref.reference} from the registry.`);
        return { imageId: id, source: 'registry', pushed: false };
      }
    } else if (pulled.status === 'unreachable') {
      registryUsable = false;
      warn(
        `The registry ${plan.registry} cannot be used (${pulled.reason.replace(/\.$/, '')}); building locally, and the image will not be pushed.`
      );
    }
  }

  phase('building');
  const entries = readEntries(plan.packagePath, { onWarning: warn });
  const rootfs = rootfsTar(entries, { onWarning: warn });
  let lastSent = -1;
  const timer = setInterval(() => {
    const p = entries.progress;
    if (p.compressedBytes + p.entries !== lastSent) {
      lastSent = p.compressedBytes + p.entries;
      emit({
        type: 'progress',
        phase: 'building',
        bytes: p.compressedBytes,
        totalBytes: p.compressedTotal,
        entries: p.entries
      });
    }
  }, PROGRESS_INTERVAL_MS);
  let imageId: string;
  try {
    imageId =
      plan.baseImage !== undefined
        ? await commitRootfs(docker, rootfs.tar, {
            baseImage: plan.baseImage.id,
            repository: ref.repository,
            tag: ref.tag,
            labels: plan.labels
          })
        : await importRootfs(docker, rootfs.tar, {
            repository: ref.repository,
            tag: ref.tag,
            labels: plan.labels
          });
    await rootfs.done;
  } catch (error) {
    rootfs.abort();
    // A damaged package fails the upload too; report the package's error, not the socket's.
    const producerError = await rootfs.done.then(
      () => null,
      (e: unknown) => e
    );
    if (producerError !== null && !(producerError instanceof TarAbortedError)) {
      throw producerError;
    }
    throw new BuildError(
      'docker-failed',
      `The Docker Engine could not create the image ${ref.reference} (${engineMessage(error).replace(/\.$/, '')}); check the engine's log and disk space.`,
      { cause: error }
    );
  } finally {
    clearInterval(timer);
  }
  const p = entries.progress;
  emit({
    type: 'progress',
    phase: 'building',
    bytes: p.compressedTotal,
    totalBytes: p.compressedTotal,
    entries: p.entries
  });
  info(`Built ${ref.reference} from ${p.entries} entries.`);

  let pushed = false;
  if (registryUsable) {
    phase('pushing');
    const progress = layerProgress('pushing');
    try {
      await pushImage(docker, ref, progress.update);
      progress.flush();
      pushed = true;
      info(`Pushed ${ref.reference} to the registry.`);
    } catch (error) {
      warn(
        `Pushing ${ref.reference} failed (${engineMessage(error).replace(/\.$/, '')}); the image is kept in the local engine only.`
      );
    }
  }
  return { imageId, source: 'built', pushed };
}

/** The id of the base image, pulling it when the engine does not have it. */
async function resolveBaseImage(
  docker: Docker,
  reference: string,
  emit: (data: BuildEventData) => void
): Promise<string> {
  const local = await localImageId(docker, reference);
  if (local !== null) {
    return local;
  }
  emit({
    type: 'log',
    level: 'info',
    message: `Pulling the base image ${reference}.`
  });
  try {
    const stream = await docker.createImage({ fromImage: reference });
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(stream, error =>
        error ? reject(error) : resolve()
      );
    });
  } catch (error) {
    throw new BuildError(
      'base-image',
      `The base image ${reference} is not in the Docker Engine and cannot be pulled (${engineMessage(error).replace(/\.$/, '')}); pull or build it first.`,
      { cause: error }
    );
  }
  const id = await localImageId(docker, reference);
  if (id === null) {
    throw new BuildError(
      'base-image',
      `The base image ${reference} was pulled but the Docker Engine does not list it; try again.`
    );
  }
  return id;
}

/**
 * Builds (or finds) the image of the package at `packagePath` and returns its reference. Rejects
 * with a `BuildError` (engine, architecture, packages, base image) or the reader's `RpzError`
 * (malformed package), each one sentence; an `error` event is sent first.
 */
export async function buildImage(
  packagePath: string,
  options: BuildOptions
): Promise<BuildResult> {
  const warnings: string[] = [];
  const listener: BuildListener = event => {
    if (event.type === 'log' && event.level === 'warning') {
      warnings.push(event.message);
    }
    options.onEvent?.(event);
  };
  const local = (data: BuildEventData): void => listener(stamp(data));
  try {
    const ping = await pingDocker(options.dockerSocket, options.pingTimeoutMs);
    if (!ping.ok) {
      throw new BuildError(
        'docker-unavailable',
        `Docker is not available (${ping.reason}); start the Docker Engine or give its socket with --docker-socket (DOCKER_SOCKET).`
      );
    }
    const docker = dockerClient(options.dockerSocket);
    // The engine's architecture is asked while the package is read (and hashed).
    const [model, version] = await Promise.all([
      readPackage(packagePath, {
        sha256: options.sha256 === undefined,
        trace: false
      }),
      docker.version()
    ]);
    const sha256 = options.sha256 ?? model.sha256;
    if (sha256 === null) {
      throw new Error('The package hash is missing.');
    }
    checkArchitecture(version.Arch, model, (level, message) =>
      local({ type: 'log', level, message })
    );
    const missing = checkPackages(model, options.baseImage);
    let baseImage: Plan['baseImage'];
    if (options.baseImage !== undefined) {
      const id = await resolveBaseImage(docker, options.baseImage, local);
      baseImage = { reference: options.baseImage, id };
      if (missing.length > 0) {
        local({
          type: 'log',
          level: 'info',
          message: `Building on ${options.baseImage}, which must provide ${missing.map(p => p.name).join(', ')}.`
        });
      }
    }
    const ref = imageRef({
      sha256,
      registry: options.registry,
      repository: options.repository,
      baseImageId: baseImage?.id
    });
    const labels: Record<string, string> = {
      [LABELS.packageSha256]: sha256,
      [LABELS.builderVersion]: String(BUILDER_VERSION)
    };
    if (baseImage !== undefined) {
      labels[LABELS.baseImage] = baseImage.reference;
      labels[LABELS.baseImageId] = baseImage.id;
    }
    const plan: Plan = {
      docker,
      packagePath,
      ref,
      registry: options.registry,
      baseImage,
      labels
    };
    const flight = flights.run(
      `${options.dockerSocket}\n${ref.reference}`,
      listener,
      async emitRaw => {
        const emit = (data: BuildEventData): void => emitRaw(stamp(data));
        try {
          const outcome = await buildShared(plan, emit);
          emit({ type: 'phase', phase: 'done' });
          emit({
            type: 'result',
            image: ref.reference,
            imageId: outcome.imageId,
            source: outcome.source,
            pushed: outcome.pushed
          });
          return outcome;
        } catch (error) {
          emit(errorEvent(error));
          throw error;
        }
      }
    );
    const outcome = await flight.promise;
    return {
      image: ref.reference,
      imageId: outcome.imageId,
      source: outcome.source,
      pushed: outcome.pushed,
      joined: flight.joined,
      warnings,
      packageSha256: sha256
    };
  } catch (error) {
    if (typeof error !== 'object' || error === null || !reported.has(error)) {
      local(errorEvent(error));
    }
    throw error;
  }
}

/** Errors already sent as an event by the shared part (so callers do not send them twice). */
const reported = new WeakSet<object>();

function errorEvent(error: unknown): BuildEventData {
  if (typeof error === 'object' && error !== null) {
    reported.add(error);
  }
  const code =
    typeof (error as { code?: unknown } | null)?.code === 'string'
      ? (error as { code: string }).code
      : 'internal';
  return { type: 'error', code, message: errorMessage(error) };
}
