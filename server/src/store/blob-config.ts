import { join } from 'node:path';
import type { BlobStore } from './blob-store';
import { FsBlobStore } from './fs-blob-store';
import { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store';

/** Which blob store to use and where: plain data, from flags, environment or a config file. */
export type BlobStoreOptions =
  { kind: 'fs'; root: string } | ({ kind: 's3' } & S3BlobStoreOptions);

/** Builds the blob store the options describe. */
export function createBlobStore(options: BlobStoreOptions): BlobStore {
  switch (options.kind) {
    case 'fs':
      return new FsBlobStore(options.root);
    case 's3':
      // The extra `kind` field is harmless to the S3 store.
      return new S3BlobStore(options);
  }
}

type Env = Record<string, string | undefined>;

/**
 * Blob store options from the environment: `REPROSERVER_BLOB_STORE` = `fs` (default, under
 * `<stateDir>/blobs`) or `s3`, with `REPROSERVER_S3_BUCKET` (required), `REPROSERVER_S3_PREFIX`,
 * `REPROSERVER_S3_ENDPOINT`, `REPROSERVER_S3_REGION` (else `AWS_REGION`) and
 * `REPROSERVER_S3_FORCE_PATH_STYLE` (`1`/`true`). Credentials come from the AWS SDK's own chain
 * (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, profiles, roles), so no secret passes through here.
 */
export function blobStoreOptionsFromEnv(
  stateDir: string,
  env: Env = process.env
): BlobStoreOptions {
  const kind = env.REPROSERVER_BLOB_STORE || 'fs';
  if (kind === 'fs') {
    return { kind: 'fs', root: join(stateDir, 'blobs') };
  }
  if (kind !== 's3') {
    throw new Error(
      `Unknown blob store "${kind}" in REPROSERVER_BLOB_STORE: use "fs" or "s3".`
    );
  }
  const bucket = env.REPROSERVER_S3_BUCKET;
  if (!bucket) {
    throw new Error(
      'REPROSERVER_BLOB_STORE is "s3" but REPROSERVER_S3_BUCKET is not set: name the bucket.'
    );
  }
  return {
    kind: 's3',
    bucket,
    prefix: env.REPROSERVER_S3_PREFIX || undefined,
    endpoint: env.REPROSERVER_S3_ENDPOINT || undefined,
    region: env.REPROSERVER_S3_REGION || env.AWS_REGION || undefined,
    forcePathStyle: /^(1|true|yes)$/i.test(
      env.REPROSERVER_S3_FORCE_PATH_STYLE ?? ''
    )
  };
}
