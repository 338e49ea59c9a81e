import {
  UPLOAD_CHUNK_SIZE,
  uploadChunks,
  uploadPath,
  uploadToWorkspace,
  type IWorkspaceContents
} from '../model/workspace-upload';

/** A contents manager that keeps files as the Jupyter server does with chunked saves. */
function fakeContents() {
  const files = new Map<string, string>();
  const folders: string[] = [];
  const requests: { path: string; chunk?: number; bytes: number }[] = [];
  const contents: IWorkspaceContents = {
    save: jest.fn(async (path, options) => {
      if (options.type === 'directory') {
        folders.push(path);
        return {};
      }
      const bytes = atob(options.content ?? '');
      requests.push({ path, chunk: options.chunk, bytes: bytes.length });
      // The server's rule: no chunk or chunk 1 writes the file anew, any other chunk appends.
      const fresh = options.chunk === undefined || options.chunk === 1;
      files.set(path, (fresh ? '' : (files.get(path) ?? '')) + bytes);
      return {};
    })
  };
  return { contents, files, folders, requests };
}

/** `size` bytes of every value, so that a misplaced chunk changes the result. */
function bytesOf(size: number): string {
  let text = '';
  for (let i = 0; i < size; i++) {
    text += String.fromCharCode(i % 251);
  }
  return text;
}

function blobOf(text: string): Blob {
  return new Blob([Uint8Array.from(text, c => c.charCodeAt(0))]);
}

describe('uploadChunks', () => {
  it('sends a file of one chunk or less whole, without a chunk number', () => {
    expect(uploadChunks(0)).toEqual([{ start: 0, end: 0, chunk: undefined }]);
    expect(uploadChunks(UPLOAD_CHUNK_SIZE)).toEqual([
      { start: 0, end: UPLOAD_CHUNK_SIZE, chunk: undefined }
    ]);
  });

  it('numbers the chunks 1, 2… and the last -1, as the file browser does', () => {
    expect(uploadChunks(25, 10)).toEqual([
      { start: 0, end: 10, chunk: 1 },
      { start: 10, end: 20, chunk: 2 },
      { start: 20, end: 25, chunk: -1 }
    ]);
    // A size that is a multiple of the chunk size ends with a full last chunk.
    expect(uploadChunks(20, 10)).toEqual([
      { start: 0, end: 10, chunk: 1 },
      { start: 10, end: 20, chunk: -1 }
    ]);
  });

  it('uses chunks of 1 MiB, as JupyterLab does', () => {
    const chunks = uploadChunks(3 * UPLOAD_CHUNK_SIZE + 1);
    expect(chunks.map(c => c.end - c.start)).toEqual([
      UPLOAD_CHUNK_SIZE,
      UPLOAD_CHUNK_SIZE,
      UPLOAD_CHUNK_SIZE,
      1
    ]);
    expect(chunks.map(c => c.chunk)).toEqual([1, 2, 3, -1]);
  });
});

describe('uploadPath', () => {
  it('puts uploads in a folder beside the package', () => {
    expect(uploadPath('work/a.rpz', 'in.csv')).toBe(
      'work/reproserver-uploads/in.csv'
    );
    expect(uploadPath('a.rpz', 'in.csv')).toBe('reproserver-uploads/in.csv');
    expect(uploadPath('a.rpz', 'C:\\tmp\\in.csv')).toBe(
      'reproserver-uploads/in.csv'
    );
  });
});

describe('uploadToWorkspace', () => {
  it('writes the file in chunks that add up to the same bytes, with progress', async () => {
    const fake = fakeContents();
    const text = bytesOf(25);
    const progress: number[] = [];
    await uploadToWorkspace(
      fake.contents,
      blobOf(text),
      'work/reproserver-uploads/in.bin',
      f => progress.push(f),
      10
    );
    expect(fake.folders).toEqual(['work/reproserver-uploads']);
    expect(fake.requests).toEqual([
      { path: 'work/reproserver-uploads/in.bin', chunk: 1, bytes: 10 },
      { path: 'work/reproserver-uploads/in.bin', chunk: 2, bytes: 10 },
      { path: 'work/reproserver-uploads/in.bin', chunk: -1, bytes: 5 }
    ]);
    expect(fake.files.get('work/reproserver-uploads/in.bin')).toBe(text);
    expect(progress).toEqual([0, 0.4, 0.8, 1]);
  });

  it('replaces an older file of the same name, also with a single request', async () => {
    const fake = fakeContents();
    fake.files.set('reproserver-uploads/in.txt', 'older content');
    await uploadToWorkspace(
      fake.contents,
      blobOf('new'),
      'reproserver-uploads/in.txt'
    );
    expect(fake.requests).toEqual([
      { path: 'reproserver-uploads/in.txt', chunk: undefined, bytes: 3 }
    ]);
    expect(fake.files.get('reproserver-uploads/in.txt')).toBe('new');
  });

  it('stops at the first refused chunk', async () => {
    const fake = fakeContents();
    let calls = 0;
    const contents: IWorkspaceContents = {
      save: async (path, options) => {
        calls++;
        if (options.chunk === 2) {
          throw new Error('disk full');
        }
        return fake.contents.save(path, options);
      }
    };
    await expect(
      uploadToWorkspace(contents, blobOf(bytesOf(30)), 'u/in', undefined, 10)
    ).rejects.toThrow('disk full');
    // The folder, chunk 1, chunk 2 (refused); never the last.
    expect(calls).toBe(3);
  });
});
