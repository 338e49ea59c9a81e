/**
 * The sandbox backend's root-filesystem cache: packages extracted once per sha256, for running
 * without Docker (see `backends/sandbox/` for execution).
 */
export {
  findRootfs,
  prepareRootfs,
  removeTree,
  rootfsCacheDir,
  type PrepareOptions,
  type PreparedRootfs,
  type RootfsInfo
} from './rootfs-cache';
export {
  DiskFullError,
  extractEntries,
  type ExtractSummary,
  type Owners
} from './extract';
