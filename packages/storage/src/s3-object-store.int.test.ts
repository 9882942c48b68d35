import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@vigil/contracts';
import { S3ObjectStore } from './s3-object-store';
import { describeObjectStoreContract } from './testing/object-store-contract';
import { startS3rver, type RunningS3rver } from './testing/s3rver';

// s3rver runs in this process on a random loopback port, so this needs no environment and never skips.
let s3: RunningS3rver;
const bucket = 'vigil-test';
let storeCount = 0;

beforeAll(async () => {
  s3 = await startS3rver();
  await s3.createBucket(bucket);
});
afterAll(async () => {
  await s3?.stop();
});

describeObjectStoreContract('S3ObjectStore (s3rver)', {
  // A small page size so list() has to follow continuation tokens.
  create: async () => new S3ObjectStore({ client: s3.client, bucket, prefix: `contract/${++storeCount}`, pageSize: 2 }),
  preservesContentType: true,
  listsInByteOrder: false,
});

describe('S3ObjectStore specifics', () => {
  it('keeps stores with different prefixes apart and stores plain bytes', async () => {
    const a = new S3ObjectStore({ client: s3.client, bucket, prefix: '/tenant-a/' });
    const b = new S3ObjectStore({ client: s3.client, bucket, prefix: 'tenant-b' });
    await a.put('same/key', Buffer.from('from a'));
    await b.put('same/key', Buffer.from('from b'));
    expect((await a.getBuffer('same/key')).toString()).toBe('from a');
    expect(a.description).toBe(`s3://${bucket}/tenant-a/`);
    // Checksum framing (aws-chunked) must not end up inside the object.
    const raw = await s3.client.send(new GetObjectCommand({ Bucket: bucket, Key: 'tenant-b/same/key' }));
    expect(await raw.Body?.transformToString()).toBe('from b');
    const listed: string[] = [];
    for await (const info of a.list('')) listed.push(info.key);
    expect(listed).toEqual(['same/key']);
  });

  it('lists keys written by other tools as they are', async () => {
    const store = new S3ObjectStore({ client: s3.client, bucket, prefix: 'foreign' });
    await s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: 'foreign/cam 1/img (1).png', Body: 'x' }));
    const listed: string[] = [];
    for await (const info of store.list('cam 1/')) listed.push(info.key);
    expect(listed).toEqual(['cam 1/img (1).png']);
    expect((await store.getBuffer('cam 1/img (1).png')).toString()).toBe('x');
  });

  it('reports a missing bucket as UNAVAILABLE, not as a missing object', async () => {
    const store = new S3ObjectStore({ client: s3.client, bucket: 'no-such-bucket' });
    await expect(store.get('k')).rejects.toMatchObject({
      code: ErrorCode.Unavailable,
      details: expect.objectContaining({ s3Code: 'NoSuchBucket' }),
    });
    await expect(store.put('k', Buffer.from('x'))).rejects.toMatchObject({ code: ErrorCode.Unavailable });
  });

  it('rejects an invalid bucket name up front', () => {
    expect(() => new S3ObjectStore({ client: s3.client, bucket: 'Not_Valid' })).toThrow(
      expect.objectContaining({ code: ErrorCode.BadUserInput }),
    );
  });
});
