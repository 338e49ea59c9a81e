/**
 * The image builder: `.rpz` package → Docker image holding exactly the package's files, named by
 * the package's sha256 and the builder version, cached in the engine and a registry.
 *
 * Entry point: `buildImage(packagePath, options) → Promise<BuildResult>`, with progress as
 * `BuildEvent`s through `options.onEvent`. Failures are `BuildError`s, or the reader's `RpzError`
 * for a malformed package.
 */
export { buildImage, type BuildOptions, type BuildResult } from './builder';
export { BuildError, type BuildErrorCode } from './errors';
export type {
  BuildEvent,
  BuildEventData,
  BuildListener,
  BuildPhase,
  ImageSource
} from './events';
export {
  BUILDER_VERSION,
  DEFAULT_REPOSITORY,
  LABELS,
  imageRef,
  type ImageRef,
  type ImageRefInput
} from './image-ref';
export { rootfsTar, isWhiteout, type RootfsTarOptions } from './rootfs-tar';
