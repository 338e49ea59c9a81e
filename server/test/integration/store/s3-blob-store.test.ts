/**
 * The S3 blob store against a real S3-compatible server (moto's, started by scripts/services/s3.sh,
 * which records S3_ENDPOINT): the same contract table as the filesystem store, plus what only S3
 * has (multipart copy, prefixes).
 */
import { randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client
} from '@aws-sdk/client-s3';
import { createBlobStore } from '../../../src/store/blob-config';
import {
  S3BlobStore,
  type S3BlobStoreOptions
} from '../../../src/store/s3-blob-store';
import {
  blobStoreCases,
  bodyOf,
  bytes,
  readAll,
  sha256Of
} from '../../unit/store/blob-store-cases';

jest.setTimeout(60_000);

const endpoint = process.env.S3_ENDPOINT;
const MiB = 1024 ** 2;

const connection = {
  endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' }
};
const client = new S3Client(connection);
const bucket = `reproserver-test-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  if (!endpoint) {
    throw new Error(
      'S3_ENDPOINT is not set: start the S3 server with scripts/services/s3.sh start, then load .state/services.env.'
    );
  }
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(() => client.destroy());

/** Every object and unfinished multipart upload under a prefix. */
async function listAll(prefix: string): Promise<string[]> {
  const found: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ContinuationToken: token
      })
    );
    found.push(...(page.Contents ?? []).map(o => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  const uploads = await client.send(
    new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix })
  );
  found.push(...(uploads.Uploads ?? []).map(u => `upload:${u.Key}`));
  return found.sort();
}

const freshPrefix = (): string => `t-${randomBytes(6).toString('hex')}/blobs/`;

function storeAt(
  prefix: string,
  options: Partial<S3BlobStoreOptions> = {}
): S3BlobStore {
  return new S3BlobStore({
    bucket,
    prefix,
    ...connection,
    partSizeBytes: 5 * MiB,
    ...options
  });
}

blobStoreCases('S3BlobStore', async () => {
  const prefix = freshPrefix();
  return { store: storeAt(prefix), listAll: () => listAll(prefix) };
});

describe('S3BlobStore specifics', () => {
  it('names objects <prefix>ab/cdef… and adds a missing final slash', async () => {
    const prefix = freshPrefix();
    const store = storeAt(prefix.slice(0, -1));
    const { sha256 } = await store.put(bodyOf(Buffer.from('layout')));
    expect(await listAll(prefix)).toEqual([
      `${prefix}${sha256.slice(0, 2)}/${sha256.slice(2)}`
    ]);
  });

  it('copies objects over the single-copy limit part by part', async () => {
    const prefix = freshPrefix();
    const store = storeAt(prefix, {
      maxSingleCopyBytes: 5 * MiB,
      copyPartBytes: 5 * MiB
    });
    const data = bytes(11 * MiB, 9);
    const info = await store.put(bodyOf(data));
    expect(info).toEqual({ sha256: sha256Of(data), size: data.length });
    expect(sha256Of(await readAll(await store.get(info.sha256)))).toBe(
      info.sha256
    );
    expect(await listAll(prefix)).toHaveLength(1);
  });

  it('keeps stores with different prefixes apart', async () => {
    const one = storeAt(freshPrefix());
    const other = storeAt(freshPrefix());
    const { sha256 } = await one.put(bodyOf(Buffer.from('mine')));
    expect(await other.has(sha256)).toBe(false);
  });

  it('is what createBlobStore makes from plain options', async () => {
    const prefix = freshPrefix();
    const store = createBlobStore({
      kind: 's3',
      bucket,
      prefix,
      ...connection
    });
    expect(store).toBeInstanceOf(S3BlobStore);
    const data = Buffer.from('from options');
    await store.put(bodyOf(data));
    expect(await store.has(sha256Of(data))).toBe(true);
  });
});
