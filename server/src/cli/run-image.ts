import { buildImage } from '../build';
import type { BuildEvent } from '../build/events';
import type { ServerConfig } from '../config';
import type { PackageModel } from '../rpz/model';
import { readerOptionsOf } from '../rpz/worker';

/**
 * The image a run starts from: the one given with --image, or the package's image from the
 * builder (found in the engine, pulled from the registry, or built), with its progress on stderr.
 */
export async function ensureImageForRun(
  packagePath: string,
  model: PackageModel,
  config: ServerConfig,
  image: string | undefined
): Promise<string> {
  if (image) {
    return image;
  }
  const result = await buildImage(packagePath, {
    dockerSocket: config.dockerSocket,
    registry: config.registry,
    sha256: model.sha256 ?? undefined,
    model,
    reader: readerOptionsOf(config),
    onEvent: (event: BuildEvent) => {
      if (event.type === 'phase') {
        console.error(`[reproserver] image: ${event.phase}`);
      } else if (event.type === 'log' && event.level === 'warning') {
        console.error(`[reproserver] warning: ${event.message}`);
      }
    }
  });
  return result.image;
}
