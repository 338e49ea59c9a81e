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

/** What a pull found. */
export type PullOutcome =
  | { status: 'pulled' }
  | { status: 'absent' }
  /** The registry could not be asked; `reason` is the engine's sentence. */
  | { status: 'unreachable'; reason: string };

const ABSENT = /manifest unknown|not found|name unknown|does not exist/i;

/**
 * Pulls `ref` from its registry. `onStart` is called once, when the registry turned out to have
 * the image and layers start coming (so a miss never looks like a pull).
 */
export async function pullImage(
  docker: Docker,
  ref: ImageRef,
  onStart: () => void,
  onProgress?: LayerProgress
): Promise<PullOutcome> {
  let started = false;
  const count = layerCounter(onProgress);
  try {
    const stream = (await docker.createImage({
      fromImage: ref.repository,
      tag: ref.tag
    })) as Readable;
    await followEngineStream(stream, message => {
      if (
        !started &&
        message.id !== undefined &&
        message.id !== ref.tag &&
        message.error === undefined
      ) {
        started = true;
        onStart();
      }
      count(message);
    });
    return { status: 'pulled' };
  } catch (error) {
    const reason = engineMessage(error);
    if (engineStatus(error) === 404 || ABSENT.test(reason)) {
      return { status: 'absent' };
    }
    return { status: 'unreachable', reason };
  }
}

/** Pushes `ref` to its registry; rejects with the engine's sentence on failure. */
export async function pushImage(
  docker: Docker,
  ref: ImageRef,
  onProgress?: LayerProgress
): Promise<void> {
  const stream = (await docker.getImage(ref.repository).push({
    tag: ref.tag,
    // The engine expects an auth header; the project's registries take none.
    authconfig: {}
  })) as Readable;
  await followEngineStream(stream, layerCounter(onProgress));
}
