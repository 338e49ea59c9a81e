/**
 * Writes a sweep's table into the workspace as CSV through JupyterLab's contents API, as the
 * panel saves uploads: beside the package, named after it and the sweep, and never over an
 * existing file unless the user says so.
 */

/** The part of JupyterLab's contents manager the export needs (`Contents.IManager`). */
export interface IWorkspaceFiles {
  get(path: string, options: { content: false }): Promise<unknown>;
  save(
    path: string,
    options: { type: 'file'; format: 'text'; content: string }
  ): Promise<unknown>;
}

/** `data/exp.sweep-<id>.csv` for the package `data/exp.rpz`. */
export function csvPath(packagePath: string, sweepId: string): string {
  const slash = packagePath.lastIndexOf('/');
  const dir = slash === -1 ? '' : packagePath.slice(0, slash + 1);
  const stem = packagePath.slice(slash + 1).replace(/\.rpz$/i, '');
  const id = sweepId.replace(/[^A-Za-z0-9_.-]/g, '_');
  return `${dir}${stem}.sweep-${id}.csv`;
}

/** Whether a workspace file exists (any failure to find it counts as not existing). */
export async function exists(
  files: IWorkspaceFiles,
  path: string
): Promise<boolean> {
  try {
    await files.get(path, { content: false });
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `csv` at `path`; when a file is there already, asks `confirmReplace` first. Resolves
 * with the path written, or null when the user kept the existing file.
 */
export async function exportCsv(
  files: IWorkspaceFiles,
  path: string,
  csv: string,
  confirmReplace: (path: string) => Promise<boolean>
): Promise<string | null> {
  if ((await exists(files, path)) && !(await confirmReplace(path))) {
    return null;
  }
  await files.save(path, { type: 'file', format: 'text', content: csv });
  return path;
}
