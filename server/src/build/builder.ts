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
 * The tar is generated in a reader process (`PackageReader.rootfsTar`): its bytes reach the engine
 * through this process unread, so a hostile package stalls or exhausts that process only (killed
 * at its memory cap or after `READER_DEFAULTS.stallSeconds` without progress), never the server.
 *
 * Steps: ping the engine (fail fast), read the package model, check architecture and left-out
 * packages, then under single-flight: local engine → registry pull → build → push. Progress and
 * log lines go out as `BuildEvent`s.
 */
import type Docker from 'dockerode';
import { basename } from 'node:path';
import { dockerClient } from '../backends/docker/client';
import { engineOf, forgetEngine } from '../backends/docker/engine';
import { pingDocker } from '../backends/docker/ping';
import type { PackageModel } from '../rpz';
import {
  PackageReader,
  StreamJobAbortedError,
  type PackageReaderOptions,
  type StreamProgress
} from '../rpz/worker';
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
  /**
   * The package's model when the caller has read it already (the server has, within its reader's
   * limits). Without it the package is read here, in a reader process, never on this thread.
   */
  model?: PackageModel;
  /**
   * The registry digest (`sha256:…`) recorded when this image was pushed or first pulled (a
   * `BuildResult.digest`): the registry is then asked for that manifest only, never the tag, so
   * that whoever can push to the tag cannot change what runs. Without one, the tag is pulled once
   * and its digest returned for the caller to record.
   */
  digest?: string;
  /**
   * Limits of the reader processes that read the package and generate its tar (deadline, memory
   * cap, stall timeout); the defaults of `READER_DEFAULTS` when absent.
   */
  reader?: PackageReaderOptions;
  /** Stops the build this call started (its reader is killed; joined callers get the error). */
  signal?: AbortSignal;
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
  /** The registry digest of the image when it was pushed or pulled: record it, pass it next time. */
  digest?: string;
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
  digest?: string;
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
  if (engineArch === '') {
    log(
      'warning',
      'The Docker Engine does not say which architecture it runs on; assuming it can run the package.'
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
  /** The recorded registry digest, when there is one. */
  digest: string | undefined;
  baseImage: { reference: string; id: string } | undefined;
  labels: Record<string, string>;
  /** Runs the tar's generation (a reader process of its own per build). */
  reader: PackageReader;
  /** Names the package in the reader's refusals. */
  label: string;
  signal: AbortSignal | undefined;
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
      progress.update,
      plan.digest
    );
    progress.flush();
    if (pulled.status === 'pulled') {
      const id = await localImageId(docker, ref.reference);
      if (id !== null) {
        info(
          `Pulled ${ref.reference} from the registry${plan.digest ? ` by its digest ${plan.digest}` : ''}.`
        );
        return {
          imageId: id,
          source: 'registry',
          pushed: false,
          digest: pulled.digest
        };
      }
    } else if (pulled.status === 'unreachable') {
      registryUsable = false;
      warn(
        `The registry ${plan.registry} cannot be used (${pulled.reason.replace(/\.$/, '')}); building locally, and the image will not be pushed.`
      );
    }
  }

  phase('building');
  // The tar is generated in a reader process: this thread passes its bytes to the engine
  // unread, and only hears the counters.
  let counters: StreamProgress | undefined;
  const job = plan.reader.rootfsTar(
    plan.packagePath,
    {
      onWarning: warn,
      onProgress: latest => {
        counters = latest;
      },
      signal: plan.signal
    },
    plan.label
  );
  let lastSent: StreamProgress | undefined;
  const timer = setInterval(() => {
    if (counters !== undefined && counters !== lastSent) {
      lastSent = counters;
      emit({
        type: 'progress',
        phase: 'building',
        bytes: counters.compressedBytes,
        totalBytes: counters.compressedTotal,
        entries: counters.entries
      });
    }
  }, PROGRESS_INTERVAL_MS);
  let imageId: string;
  let p: StreamProgress;
  try {
    imageId =
      plan.baseImage !== undefined
        ? await commitRootfs(docker, job.output, {
            baseImage: plan.baseImage.id,
            repository: ref.repository,
            tag: ref.tag,
            labels: plan.labels
          })
        : await importRootfs(docker, job.output, {
            repository: ref.repository,
            tag: ref.tag,
            labels: plan.labels
          });
    p = await job.result;
  } catch (error) {
    job.abort();
    // A damaged package fails the upload too; report the package's error, not the socket's.
    const producerError = await job.result.then(
      () => null,
      (e: unknown) => e
    );
    if (
      producerError !== null &&
      !(producerError instanceof StreamJobAbortedError)
    ) {
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
  emit({
    type: 'progress',
    phase: 'building',
    bytes: p.compressedTotal,
    totalBytes: p.compressedTotal,
    entries: p.entries
  });
  info(`Built ${ref.reference} from ${p.entries} entries.`);

  let pushed = false;
  let digest: string | undefined;
  if (registryUsable) {
    phase('pushing');
    const progress = layerProgress('pushing');
    try {
      digest = await pushImage(docker, ref, progress.update);
      progress.flush();
      pushed = true;
      info(`Pushed ${ref.reference} to the registry.`);
    } catch (error) {
      warn(
        `Pushing ${ref.reference} failed (${engineMessage(error).replace(/\.$/, '')}); the image is kept in the local engine only.`
      );
    }
  }
  return { imageId, source: 'built', pushed, digest };
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
  // Reads the model (when not given) and generates the tar; closed with this call.
  const reader = new PackageReader({ processes: 1, ...options.reader });
  try {
    const ping = await pingDocker(options.dockerSocket, options.pingTimeoutMs);
    if (!ping.ok) {
      // Whatever answers there next may be another engine.
      forgetEngine(options.dockerSocket);
      throw new BuildError(
        'docker-unavailable',
        `Docker is not available (${ping.reason}); start the Docker Engine or give its socket with --docker-socket (DOCKER_SOCKET).`
      );
    }
    const docker = dockerClient(options.dockerSocket);
    // The engine's architecture is known (or asked) while the package is read (and hashed).
    const [model, engine] = await Promise.all([
      options.model ??
        sharedRead(packagePath, options.sha256 === undefined, () =>
          reader.readPackage(packagePath, {
            sha256: options.sha256 === undefined,
            trace: false
          })
        ),
      engineOf(docker)
    ]);
    const sha256 = options.sha256 ?? model.sha256;
    if (sha256 === null) {
      throw new Error('The package hash is missing.');
    }
    checkArchitecture(engine.architecture, model, (level, message) =>
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
      digest: options.digest,
      baseImage,
      labels,
      reader,
      label: basename(packagePath),
      signal: options.signal
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
      digest: outcome.digest,
      joined: flight.joined,
      warnings,
      packageSha256: sha256
    };
  } catch (error) {
    if (typeof error !== 'object' || error === null || !reported.has(error)) {
      local(errorEvent(error));
    }
    throw error;
  } finally {
    reader.close();
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

/**
 * Model reads in progress, by package path: callers building one package at once share a read,
 * so that they reach the build's single flight together and join it (a read in a reader process
 * takes long enough for a late caller to find the first build over and start another).
 */
const modelReads = new Map<string, Promise<PackageModel>>();

function sharedRead(
  packagePath: string,
  hashed: boolean,
  read: () => Promise<PackageModel>
): Promise<PackageModel> {
  const key = `${hashed ? 'hashed' : 'plain'}\0${packagePath}`;
  let pending = modelReads.get(key);
  if (pending === undefined) {
    pending = read();
    modelReads.set(key, pending);
    const forget = (): void => {
      if (modelReads.get(key) === pending) {
        modelReads.delete(key);
      }
    };
    pending.then(forget, forget);
  }
  return pending;
}
