/**
 * The image cache: the local engine first, then the registry. Pull and push go through the engine
 * (it knows the registry's protocol and TLS rules); their progress is summed over layers.
 */
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import {
  engineMessage,
  engineStatus,
  followEngineStream,
  type EngineMessage
} from './engine-stream';
import type { ImageRef } from './image-ref';

/** Bytes done and total over all layers of a pull or push. */
export type LayerProgress = (done: number, total: number) => void;

/** The id of the image `reference` in the local engine, or null when it has none. */
export async function localImageId(
  docker: Docker,
  reference: string
): Promise<string | null> {
  try {
    const info = await docker.getImage(reference).inspect();
    return info.Id;
  } catch (error) {
    if (engineStatus(error) === 404) {
      return null;
    }
    throw error;
  }
}

/** Sums per-layer `progressDetail` into one figure. */
function layerCounter(onProgress: LayerProgress | undefined) {
  const layers = new Map<string, { current: number; total: number }>();
  return (message: EngineMessage): void => {
    const detail = message.progressDetail;
    if (message.id === undefined || detail === undefined) {
      return;
    }
    if (detail.total === undefined || detail.current === undefined) {
      return;
    }
    layers.set(message.id, { current: detail.current, total: detail.total });
    let done = 0;
    let total = 0;
    for (const layer of layers.values()) {
      done += layer.current;
      total += layer.total;
    }
    onProgress?.(done, total);
  };
}

/** A registry digest: `sha256:` and 64 hex digits; nothing else is pulled by. */
export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && /^sha256:[0-9a-f]{64}$/.test(value);
}

/** What a pull found. */
export type PullOutcome =
  /** `digest`: the manifest's, as the engine reported it (the one asked for, when pinned). */
  | { status: 'pulled'; digest: string | undefined }
  | { status: 'absent' }
  /** The registry could not be asked; `reason` is the engine's sentence. */
  | { status: 'unreachable'; reason: string };

const ABSENT = /manifest unknown|not found|name unknown|does not exist/i;

/**
 * Pulls `ref` from its registry: by `digest` when one was recorded (what the registry holds
 * under the tag is then never used; the pulled image is tagged `ref` locally), by tag otherwise.
 * `onStart` is called once, when the registry turned out to have the image and layers start
 * coming (so a miss never looks like a pull).
 */
export async function pullImage(
  docker: Docker,
  ref: ImageRef,
  onStart: () => void,
  onProgress?: LayerProgress,
  digest?: string
): Promise<PullOutcome> {
  if (digest !== undefined && !isDigest(digest)) {
    throw new Error(`"${digest}" is not a registry digest (sha256:…).`);
  }
  let started = false;
  let reported: string | undefined;
  const count = layerCounter(onProgress);
  const wanted = digest ?? ref.tag;
  try {
    const stream = (await docker.createImage({
      fromImage: ref.repository,
      tag: wanted
    })) as Readable;
    await followEngineStream(stream, message => {
      if (
        !started &&
        message.id !== undefined &&
        message.id !== wanted &&
        message.error === undefined
      ) {
        started = true;
        onStart();
      }
      const said = /^Digest: (sha256:[0-9a-f]{64})$/.exec(message.status ?? '');
      reported = said?.[1] ?? reported;
      count(message);
    });
  } catch (error) {
    const reason = engineMessage(error);
    if (engineStatus(error) === 404 || ABSENT.test(reason)) {
      return { status: 'absent' };
    }
    return { status: 'unreachable', reason };
  }
  if (digest !== undefined) {
    await docker
      .getImage(`${ref.repository}@${digest}`)
      .tag({ repo: ref.repository, tag: ref.tag });
  }
  return { status: 'pulled', digest: digest ?? reported };
}

/**
 * Pushes `ref` to its registry; resolves with the manifest's digest, which later pulls use.
 * Rejects with the engine's sentence on failure.
 */
export async function pushImage(
  docker: Docker,
  ref: ImageRef,
  onProgress?: LayerProgress
): Promise<string> {
  const stream = (await docker.getImage(ref.repository).push({
    tag: ref.tag,
    // The engine expects an auth header; the project's registries take none.
    authconfig: {}
  })) as Readable;
  const counter = layerCounter(onProgress);
  let digest: string | undefined;
  let said: string | undefined;
  await followEngineStream(stream, message => {
    counter(message);
    if (isDigest(message.aux?.Digest) && message.aux?.Tag === ref.tag) {
      digest = message.aux.Digest;
    }
    // Both engines end with "TAG: digest: sha256:… size: N"; Podman (4.x) sends no `aux`.
    const match = /^(\S+): digest: (sha256:[0-9a-f]{64}) size: \d+$/.exec(
      message.status ?? ''
    );
    if (match?.[1] === ref.tag) {
      said = match[2];
    }
  });
  digest ??= said;
  if (digest === undefined) {
    throw new Error(
      `The registry did not give the digest of ${ref.reference} when it was pushed.`
    );
  }
  return digest;
}
