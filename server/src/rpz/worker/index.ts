/**
 * Reading packages apart from the event loop: `PackageReader` runs the package reader in a small
 * pool of reader processes, each task with a deadline and a memory cap.
 */
export {
  PackageReader,
  readerOptionsOf,
  type PackageReaderOptions
} from './package-reader';
export {
  StreamJobAbortedError,
  type StreamJob,
  type StreamJobOptions
} from './stream-job';
export type { StreamProgress } from './protocol';
export { SECONDS_PER_16_MIB } from './deadline';
export { READER_DEFAULTS } from './defaults';
