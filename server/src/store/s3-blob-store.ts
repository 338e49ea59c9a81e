import { randomUUID } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCopyCommand,
  type CompletedPart
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  assertSha256,
  BlobNotFoundError,
  resolveRange,
  type BlobInfo,
  type BlobStore,
  type ByteRange,
  type PutOptions
} from './blob-store';
import { HashingLimiter } from './hashing-limiter';

/** Where and how to reach the bucket; plain data, so it can come from flags or the environment. */
export interface S3BlobStoreOptions {
  bucket: string;
  /** Prepended to every key, e.g. `reproserver/blobs/`; a missing final `/` is added. */
  prefix?: string;
  /** An S3-compatible server's URL (MinIO, Ceph…); AWS's when absent. */
  endpoint?: string;
  /** Default `us-east-1`. */
  region?: string;
  /** `http://host/bucket/key` rather than `http://bucket.host/key`; most non-AWS servers need it. */
  forcePathStyle?: boolean;
  /** Static credentials; the SDK's default chain (environment, profile, instance role) otherwise. */
  credentials?: {
    accessKeyId: string;
    secretAccessKey: string;
    sessionToken?: string;
  };
  /** Size of each part of a multipart upload (min 5 MiB); default 8 MiB. */
  partSizeBytes?: number;
  /** Parts uploaded at once; memory use of a put is at most partSizeBytes × queueSize. Default 2. */
  queueSize?: number;
  /** Largest object one CopyObject may copy; larger ones are copied in parts. S3's limit: 5 GiB. */
  maxSingleCopyBytes?: number;
  /** Part size of a multipart copy; default 1 GiB. */
  copyPartBytes?: number;
}

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

/**
 * Blobs as objects `<prefix>ab/cdef…`. A put cannot know the key before the whole body went
 * through the hash, so it streams the body (lib-storage's multipart Upload, memory bounded by
 * partSize × queueSize, no local disk needed for multi-GB packages) to a temporary key
 * `<prefix>tmp/<uuid>`, then copies it server-side to its final key (unless already there) and
 * deletes the temporary one. Readers therefore never see a partial blob under a sha256 key.
 * Temporary objects orphaned by a crash stay under `<prefix>tmp/`: give the bucket a lifecycle
 * rule that expires them after a day.
 */
export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly maxSingleCopy: number;
  private readonly copyPart: number;

  constructor(options: S3BlobStoreOptions, client?: S3Client) {
    this.bucket = options.bucket;
    this.prefix =
      options.prefix && !options.prefix.endsWith('/')
        ? `${options.prefix}/`
        : (options.prefix ?? '');
    this.partSize = Math.max(options.partSizeBytes ?? 8 * MiB, 5 * MiB);
    this.queueSize = options.queueSize ?? 2;
    this.maxSingleCopy = options.maxSingleCopyBytes ?? 5 * GiB;
    this.copyPart = options.copyPartBytes ?? GiB;
    this.client =
      client ??
      new S3Client({
        region: options.region ?? 'us-east-1',
        endpoint: options.endpoint,
        forcePathStyle: options.forcePathStyle,
        credentials: options.credentials,
        // Every request we send has a known length; checksums only where S3 demands them keep
        // us compatible with S3-compatible servers that lag behind AWS's newer checksum headers.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED'
      });
  }

  async put(body: Readable, options: PutOptions = {}): Promise<BlobInfo> {
    const temporary = `${this.prefix}tmp/${randomUUID()}`;
    const hasher = new HashingLimiter(options.maxBytes);
    // Whichever fails first explains the failure: the body (too large, client gone) or the
    // upload (S3 refused); the other one only sees its counterpart stop.
    let firstError: unknown;
    const piped = new Promise<void>(resolve => {
      pipeline(body, hasher, error => {
        firstError ??= error ?? undefined;
        resolve();
      });
    });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: temporary, Body: hasher },
      partSize: this.partSize,
      queueSize: this.queueSize,
      // Aborts the multipart upload on failure, so its parts do not linger (and cost).
      leavePartsOnError: false
    });
    const uploaded = upload.done().then(
      () => undefined,
      (error: unknown) => {
        firstError ??= error;
        // Stops the body too: nobody reads it any more.
        hasher.destroy();
      }
    );
    try {
      await Promise.all([uploaded, piped]);
      if (firstError !== undefined) {
        throw firstError;
      }
      const sha256 = hasher.digest();
      const size = hasher.byteCount;
      const target = this.keyOf(sha256);
      if ((await this.headSize(target)) === undefined) {
        await this.copy(temporary, target, size);
      }
      return { sha256, size };
    } finally {
      await this.client
        .send(new DeleteObjectCommand({ Bucket: this.bucket, Key: temporary }))
        .catch(() => undefined);
    }
  }

  async get(sha256: string, range?: ByteRange): Promise<Readable> {
    const key = this.keyOf(sha256);
    let header: string | undefined;
    if (range) {
      // S3 clamps an end past the object's size; check first so both stores refuse the same.
      const size = await this.headSize(key);
      if (size === undefined) {
        throw new BlobNotFoundError(sha256);
      }
      const { start, end } = resolveRange(range, size);
      header = `bytes=${start}-${end}`;
    }
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: header })
      );
      // In Node.js the SDK's body is an http.IncomingMessage: a Readable.
      return response.Body as Readable;
    } catch (error) {
      throw isMissing(error) ? new BlobNotFoundError(sha256) : error;
    }
  }

  async stat(sha256: string): Promise<BlobInfo | undefined> {
    const size = await this.headSize(this.keyOf(sha256));
    return size === undefined ? undefined : { sha256, size };
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== undefined;
  }

  async delete(sha256: string): Promise<boolean> {
    const key = this.keyOf(sha256);
    // DeleteObject succeeds whether or not the key exists; ask first to answer truthfully.
    if ((await this.headSize(key)) === undefined) {
      return false;
    }
    await this.client.send(
      new DeleteObjectCommand({ Bucket: this.bucket, Key: key })
    );
    return true;
  }

  /** The object key of a blob; the key is checked first, so it stays under the prefix. */
  keyOf(sha256: string): string {
    assertSha256(sha256);
    return `${this.prefix}${sha256.slice(0, 2)}/${sha256.slice(2)}`;
  }

  private async headSize(key: string): Promise<number | undefined> {
    try {
      const head = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: key })
      );
      return head.ContentLength ?? 0;
    } catch (error) {
      if (isMissing(error)) {
        return undefined;
      }
      throw error;
    }
  }

  /** Server-side copy; objects over S3's single-copy limit are copied part by part. */
  private async copy(from: string, to: string, size: number): Promise<void> {
    const source = `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`;
    if (size <= this.maxSingleCopy) {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: to,
          CopySource: source
        })
      );
      return;
    }
    const { UploadId } = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: to })
    );
    try {
      const parts: CompletedPart[] = [];
      for (let start = 0, n = 1; start < size; start += this.copyPart, n++) {
        const end = Math.min(start + this.copyPart, size) - 1;
        const { CopyPartResult } = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: to,
            UploadId,
            PartNumber: n,
            CopySource: source,
            CopySourceRange: `bytes=${start}-${end}`
          })
        );
        parts.push({ PartNumber: n, ETag: CopyPartResult?.ETag });
      }
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: to,
          UploadId,
          MultipartUpload: { Parts: parts }
        })
      );
    } catch (error) {
      await this.client
        .send(
          new AbortMultipartUploadCommand({
            Bucket: this.bucket,
            Key: to,
            UploadId
          })
        )
        .catch(() => undefined);
      throw error;
    }
  }
}

function isMissing(error: unknown): boolean {
  return (
    error instanceof S3ServiceException &&
    (error.name === 'NotFound' ||
      error.name === 'NoSuchKey' ||
      error.$metadata.httpStatusCode === 404)
  );
}
