/**
 * Writes a file of the user's computer into the workspace through JupyterLab's contents API, in
 * chunks, as JupyterLab's file browser uploads large files. Why not to the companion server: its
 * requests pass through jupyter-server-proxy, which holds a whole request body in JupyterLab's
 * memory (too much for a 1–2 GB Binder machine); the contents API takes one chunk per request.
 */

/** Bytes per request: JupyterLab's file browser uses the same (`CHUNK_SIZE` of its model). */
export const UPLOAD_CHUNK_SIZE = 1024 * 1024;

/** The folder, beside the package, where uploads go (the user sees it in the file browser). */
export const UPLOADS_FOLDER = 'reproserver-uploads';

/** One request of an upload: the bytes `start` to `end` (excluded) of the file. */
export interface IUploadChunk {
  start: number;
  end: number;
  /**
   * The contents API's chunk number: 1 creates the file, 2, 3… append, -1 appends the last one.
   * Undefined for a file sent whole in one request (a lone -1 would append to an older file).
   */
  chunk: number | undefined;
}

/** The requests that upload `size` bytes, in order. */
export function uploadChunks(
  size: number,
  chunkSize = UPLOAD_CHUNK_SIZE
): IUploadChunk[] {
  if (size <= chunkSize) {
    return [{ start: 0, end: size, chunk: undefined }];
  }
  const chunks: IUploadChunk[] = [];
  for (let start = 0; start < size; start += chunkSize) {
    const end = Math.min(start + chunkSize, size);
    chunks.push({
      start,
      end,
      chunk: end >= size ? -1 : chunks.length + 1
    });
  }
  return chunks;
}

/** The part of JupyterLab's contents manager an upload needs (`Contents.IManager.save`). */
export interface IWorkspaceContents {
  save(
    path: string,
    options: {
      type: 'file' | 'directory';
      format?: 'base64';
      content?: string;
      chunk?: number;
    }
  ): Promise<unknown>;
}

/** The workspace path an upload of `fileName` for the package at `packagePath` goes to. */
export function uploadPath(packagePath: string, fileName: string): string {
  const slash = packagePath.lastIndexOf('/');
  const dir = slash === -1 ? '' : packagePath.slice(0, slash + 1);
  // A name from the computer never carries a folder; keep it to its last part anyway.
  const base = fileName.split(/[/\\]/).pop() || 'upload';
  return `${dir}${UPLOADS_FOLDER}/${base}`;
}

/**
 * Uploads `file` to `path` (its folder is created if needed), telling `onProgress` the fraction
 * sent before each request and 1 at the end.
 */
export async function uploadToWorkspace(
  contents: IWorkspaceContents,
  file: Blob,
  path: string,
  onProgress: (fraction: number) => void = () => undefined,
  chunkSize = UPLOAD_CHUNK_SIZE
): Promise<void> {
  const slash = path.lastIndexOf('/');
  if (slash > 0) {
    // Saving a folder that exists leaves it as it is.
    await contents.save(path.slice(0, slash), { type: 'directory' });
  }
  for (const part of uploadChunks(file.size, chunkSize)) {
    onProgress(file.size === 0 ? 0 : part.start / file.size);
    const content = await base64Of(file.slice(part.start, part.end));
    await contents.save(path, {
      type: 'file',
      format: 'base64',
      content,
      ...(part.chunk === undefined ? {} : { chunk: part.chunk })
    });
  }
  onProgress(1);
}

/** The bytes of a blob in base64, as the contents API takes them (read as JupyterLab does). */
export function base64Of(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      // A data URL: `data:<type>;base64,<bytes>`.
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.onerror = () => reject(reader.error ?? new Error('unreadable file'));
    reader.readAsDataURL(blob);
  });
}
