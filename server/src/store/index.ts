/**
 * Storage of the server: records (SQLite), blobs by sha256 (filesystem or S3) and run event logs
 * (append-only files), all under the state folder unless the blobs go to S3.
 */
import { join } from 'node:path';
import type { BlobStore } from './blob-store';
import { createBlobStore, type BlobStoreOptions } from './blob-config';
import { EventLogs, type EventLogOptions } from './event-log';
import { preparePrivateStateDir } from './private-state';
import { Records } from './records';
import { readLayout, upgradeLayout } from './state-layout';

export * from './blob-store';
export * from './blob-config';
export * from './event-log';
export * from './fs-blob-store';
export * from './private-state';
export * from './records';
export * from './run-id';
export * from './s3-blob-store';
export * from './state-layout';
export * from './sweep-records';

/** The three stores together, as the server uses them. */
export interface Store {
  records: Records;
  blobs: BlobStore;
  logs: EventLogs;
  /** Closes the open logs and the database. */
  close(): Promise<void>;
}

/**
 * Opens the store of a state folder: `<stateDir>/records.sqlite`, `<stateDir>/runs/<id>/`, and
 * the blob store the options name (default `<stateDir>/blobs`). A folder written by an earlier
 * version is brought up to date (database schema, then layout); one written by a newer version
 * is refused before either is changed.
 */
export function openStore(
  stateDir: string,
  options: { blobs?: BlobStoreOptions; logs?: EventLogOptions } = {}
): Store {
  preparePrivateStateDir(stateDir);
  const layout = readLayout(stateDir);
  const records = Records.open(join(stateDir, 'records.sqlite'));
  try {
    upgradeLayout(stateDir, layout);
  } catch (error) {
    records.close();
    throw error;
  }
  const blobs = createBlobStore(
    options.blobs ?? { kind: 'fs', root: join(stateDir, 'blobs') }
  );
  const logs = new EventLogs(join(stateDir, 'runs'), options.logs);
  return {
    records,
    blobs,
    logs,
    async close() {
      await logs.closeAll();
      records.close();
    }
  };
}
