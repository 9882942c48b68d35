import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  paginateListObjectsV2,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ErrorCode, VigilError, errors, isVigilError } from '@vigil/contracts';
import { assertObjectKey, assertObjectPrefix } from './keys';
import type { ObjectInfo, ObjectStore, PutOptions } from './object-store';
import { assertMaxBytes, guardStreamErrors, payloadTooLarge, readBounded, toBuffer } from './streams';

export interface S3ObjectStoreOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Every key is stored below this prefix ('a/b' and 'a/b/' mean the same). */
  readonly prefix?: string;
  /** ListObjectsV2 page size (S3 caps it at 1000). */
  readonly pageSize?: number;
  /** Multipart part size for streamed puts; S3's minimum is 5 MiB. Memory use is partSize × queueSize. */
  readonly uploadPartSize?: number;
  readonly uploadQueueSize?: number;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;

/**
 * An ObjectStore on any S3-compatible service. Buffers go up in a single PutObject; streams go through
 * lib-storage's Upload (one PutObject when small, multipart otherwise), so their size need not be known.
 * list() reports contentType as null (ListObjectsV2 does not return it); head() has it.
 */
export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly pageSize: number;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3ObjectStoreOptions) {
    assertBucketName(options.bucket, `s3://${options.bucket}`);
    const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix !== '') assertObjectKey(prefix);
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = prefix === '' ? '' : `${prefix}/`;
    this.pageSize = Math.min(Math.max(options.pageSize ?? 1000, 1), 1000);
    this.partSize = Math.max(options.uploadPartSize ?? MIN_PART_SIZE, MIN_PART_SIZE);
    this.queueSize = Math.max(options.uploadQueueSize ?? 2, 1);
    this.description = `s3://${this.bucket}/${this.prefix}`;
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<ObjectInfo> {
    const fullKey = this.fullKey(key);
    const expected = options.size;
    if (expected !== undefined && (!Number.isSafeInteger(expected) || expected < 0)) {
      throw errors.badInput('size must be a non-negative integer', { size: expected });
    }
    const contentType = options.contentType ?? null;
    const unguard = guardStreamErrors(body);
    try {
      if (Buffer.isBuffer(body)) {
        if (expected !== undefined && body.length !== expected) throw sizeMismatch(key, body.length, expected);
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: fullKey,
            Body: body,
            ContentLength: body.length,
            ...(contentType === null ? {} : { ContentType: contentType }),
          }),
        );
        return { key, size: body.length, lastModified: null, contentType };
      }
      const counter = { size: 0 };
      const upload = new Upload({
        client: this.client,
        partSize: this.partSize,
        queueSize: this.queueSize,
        params: {
          Bucket: this.bucket,
          Key: fullKey,
          Body: Readable.from(countedChunks(body, key, expected, counter)),
          ...(contentType === null ? {} : { ContentType: contentType }),
        },
      });
      await upload.done();
      return { key, size: counter.size, lastModified: null, contentType };
    } catch (error) {
      if (!Buffer.isBuffer(body) && !body.destroyed) body.destroy();
      throw mapS3Error(error, 'put', key);
    } finally {
      unguard();
    }
  }

  async get(key: string): Promise<Readable> {
    const response = await this.getObject(key);
    return response.body;
  }

  async getBuffer(key: string, maxBytes?: number): Promise<Buffer> {
    const limit = assertMaxBytes(maxBytes);
    const { body, size } = await this.getObject(key);
    if (size !== null && size > limit) {
      body.destroy();
      throw payloadTooLarge(key, limit, size);
    }
    try {
      return await readBounded(body, key, limit);
    } catch (error) {
      throw mapS3Error(error, 'get', key);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const fullKey = this.fullKey(key);
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: fullKey }));
      return {
        key,
        size: response.ContentLength ?? 0,
        lastModified: response.LastModified ?? null,
        contentType: response.ContentType ?? null,
      };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw mapS3Error(error, 'head', key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertObjectPrefix(prefix);
    const pages = paginateListObjectsV2(
      { client: this.client, pageSize: this.pageSize },
      { Bucket: this.bucket, Prefix: this.prefix + prefix },
    );
    try {
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined || !object.Key.startsWith(this.prefix)) continue;
          yield {
            key: object.Key.slice(this.prefix.length),
            size: object.Size ?? 0,
            lastModified: object.LastModified ?? null,
            contentType: null,
          };
        }
      }
    } catch (error) {
      throw mapS3Error(error, 'list', prefix);
    }
  }

  async delete(key: string): Promise<void> {
    const fullKey = this.fullKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: fullKey }));
    } catch (error) {
      if (isNotFound(error)) return;
      throw mapS3Error(error, 'delete', key);
    }
  }

  private fullKey(key: string): string {
    assertObjectKey(key);
    return this.prefix + key;
  }

  private async getObject(key: string): Promise<{ body: Readable; size: number | null }> {
    const fullKey = this.fullKey(key);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: fullKey }));
      const body: unknown = response.Body;
      if (!(body instanceof Readable)) {
        throw errors.internal(`S3 returned no readable body for '${key}'`);
      }
      return { body, size: response.ContentLength ?? null };
    } catch (error) {
      throw mapS3Error(error, 'get', key);
    }
  }
}

/** Counts (and checks against the announced size) what flows into an upload; throwing aborts the upload. */
async function* countedChunks(
  body: Readable,
  key: string,
  expected: number | undefined,
  counter: { size: number },
): AsyncGenerator<Buffer> {
  for await (const chunk of body) {
    const buffer = toBuffer(chunk);
    counter.size += buffer.length;
    if (expected !== undefined && counter.size > expected) throw sizeMismatch(key, counter.size, expected);
    yield buffer;
  }
  if (expected !== undefined && counter.size !== expected) throw sizeMismatch(key, counter.size, expected);
}

function sizeMismatch(key: string, size: number, expected: number): VigilError {
  return errors.badInput(`object '${key}' has ${size} bytes, expected ${expected}`, { key, size, expected });
}

export interface CreateS3ClientOptions {
  /** For S3-compatible services (MinIO, Ceph, s3rver); omit for AWS. */
  readonly endpoint?: string;
  readonly region: string;
  /** Path-style URLs (http://host/bucket/key); most self-hosted services need it. */
  readonly forcePathStyle?: boolean;
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  readonly maxAttempts?: number;
}

/**
 * An S3Client that only sends and checks checksums when an operation requires them. The SDK's default
 * (always, with aws-chunked framing) is not understood by several S3-compatible servers, which then
 * store the framing inside the object.
 */
export function createS3Client(options: CreateS3ClientOptions): S3Client {
  const config: S3ClientConfig = {
    region: options.region,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  if (options.endpoint !== undefined) config.endpoint = options.endpoint;
  if (options.forcePathStyle !== undefined) config.forcePathStyle = options.forcePathStyle;
  if (options.credentials !== undefined) config.credentials = { ...options.credentials };
  if (options.maxAttempts !== undefined) config.maxAttempts = options.maxAttempts;
  return new S3Client(config);
}

export interface S3Location {
  readonly bucket: string;
  /** Everything after 'bucket/', possibly '' or ending in '/'. */
  readonly key: string;
}

/** Parses `s3://bucket/some/prefix` into bucket and key; anything else is BAD_USER_INPUT. */
export function parseS3Url(url: string): S3Location {
  const match = typeof url === 'string' ? /^s3:\/\/([^/]*)(?:\/(.*))?$/s.exec(url.trim()) : null;
  if (!match) throw errors.badInput(`'${String(url)}' is not an s3:// URL`, { url });
  const bucket = match[1] ?? '';
  const key = match[2] ?? '';
  assertBucketName(bucket, url);
  if (key.startsWith('/') || key.split('/').some((segment) => segment === '.' || segment === '..')) {
    throw errors.badInput(`'${url}' has an invalid key`, { url });
  }
  return { bucket, key };
}

function assertBucketName(bucket: string, url: string): void {
  // The S3 naming rules (3-63 chars, lowercase letters, digits, dots, hyphens); also what MinIO enforces.
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..')) {
    throw errors.badInput(`'${bucket}' is not a valid bucket name`, { url, bucket });
  }
}

function isNotFound(error: unknown): boolean {
  if (error instanceof S3ServiceException) {
    if (error.name === 'NoSuchBucket') return false;
    return error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata.httpStatusCode === 404;
  }
  return false;
}

function mapS3Error(error: unknown, operation: string, key: string): VigilError {
  if (isVigilError(error)) return error;
  if (isNotFound(error)) return errors.notFound('object', key);
  const s3Code = error instanceof S3ServiceException ? error.name : undefined;
  const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
  const reason = s3Code === 'NoSuchBucket' ? 'the bucket does not exist' : 'the request failed';
  return new VigilError(
    ErrorCode.Unavailable,
    `object store could not ${operation} '${key}': ${reason}`,
    { operation, key, ...(s3Code ? { s3Code } : {}), ...(status ? { status } : {}) },
    { cause: error },
  );
}
