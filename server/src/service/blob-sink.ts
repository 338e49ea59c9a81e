import type { Readable } from 'node:stream';
import type { OutputSink } from '../runs/output-sink';
import type { BlobStore } from '../store';

/** Stores a run's outputs in the blob store, where the API serves and saves them from. */
export class BlobSink implements OutputSink {
  constructor(private readonly blobs: BlobStore) {}

  async store(
    _output: { name: string; path: string; kind: 'declared' | 'changed' },
    body: Readable
  ): Promise<{ size: number; sha256: string }> {
    return this.blobs.put(body);
  }
}
