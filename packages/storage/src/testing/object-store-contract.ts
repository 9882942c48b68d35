import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@vigil/contracts';
import { contentKey, putContentAddressed, sha256Hex } from '../content-addressed';
import type { ObjectInfo, ObjectStore } from '../object-store';

export interface ObjectStoreContractOptions {
  /** A fresh, empty store for every test. */
  create(): Promise<ObjectStore>;
  /** Whether head() returns the content type given to put(). */
  readonly preservesContentType: boolean;
  /**
   * False for servers that do not list in UTF-8 byte order when a key has characters below '/' ('-', '.',
   * ' ') where another has '/': s3rver walks its directories by name, returns 'a/b' before 'a-b' and then
   * loses 'a-b' when paginating. AWS S3 and MinIO get it right. Default true.
   */
  readonly listsInByteOrder?: boolean;
}

async function collect(iterable: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const items: ObjectInfo[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

function chunked(bytes: Buffer, chunkSize: number): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkSize)
    chunks.push(bytes.subarray(offset, offset + chunkSize));
  return Readable.from(chunks);
}

function failingStream(after: Buffer): Readable {
  return Readable.from(
    (async function* () {
      yield after;
      throw new Error('client went away');
    })(),
  );
}

const INVALID_KEYS = ['', '/abs', 'a/../b', '..', 'a//b', 'a/./b', 'a\\b', 'a/', 'nul\u0000', '.vigil-tmp-x'];

/**
 * The behaviour every ObjectStore must show, as a jest suite. Each implementation's test file calls this
 * with a factory, so local disk and S3 are held to exactly the same rules.
 */
export function describeObjectStoreContract(name: string, options: ObjectStoreContractOptions): void {
  describe(`ObjectStore contract: ${name}`, () => {
    it('puts a buffer and reads it back as stream and buffer', async () => {
      const store = await options.create();
      const bytes = randomBytes(1000);
      const info = await store.put('images/a.png', bytes, { contentType: 'image/png' });
      expect(info).toMatchObject({ key: 'images/a.png', size: 1000 });
      expect(await readAll(await store.get('images/a.png'))).toEqual(bytes);
      expect(await store.getBuffer('images/a.png')).toEqual(bytes);
      const head = await store.head('images/a.png');
      expect(head).toMatchObject({ key: 'images/a.png', size: 1000 });
      // Dates cross jest's realm boundary, so check the behaviour rather than instanceof.
      expect(head?.lastModified?.getTime()).toEqual(expect.any(Number));
      expect(head?.contentType).toBe(options.preservesContentType ? 'image/png' : null);
    });

    it('puts a stream of unknown size', async () => {
      const store = await options.create();
      const bytes = randomBytes(200_000);
      const info = await store.put('streamed.bin', chunked(bytes, 16_384));
      expect(info.size).toBe(bytes.length);
      expect(await store.getBuffer('streamed.bin')).toEqual(bytes);
    });

    it('puts a stream larger than one multipart part', async () => {
      const store = await options.create();
      const bytes = randomBytes(6 * 1024 * 1024 + 123);
      const info = await store.put('big/object.bin', chunked(bytes, 256 * 1024));
      expect(info.size).toBe(bytes.length);
      expect((await store.head('big/object.bin'))?.size).toBe(bytes.length);
      expect(sha256Hex(await store.getBuffer('big/object.bin'))).toBe(sha256Hex(bytes));
    });

    it('puts a stream of announced size and rejects a body that does not match it', async () => {
      const store = await options.create();
      const bytes = randomBytes(5000);
      expect((await store.put('sized', chunked(bytes, 1000), { size: 5000 })).size).toBe(5000);
      await expect(store.put('short', chunked(bytes, 1000), { size: 6000 })).rejects.toMatchObject({
        code: ErrorCode.BadUserInput,
      });
      await expect(store.put('long', chunked(bytes, 1000), { size: 10 })).rejects.toMatchObject({
        code: ErrorCode.BadUserInput,
      });
      await expect(store.put('buffer', bytes, { size: 1 })).rejects.toMatchObject({ code: ErrorCode.BadUserInput });
      expect(await store.head('short')).toBeNull();
      expect(await store.head('long')).toBeNull();
      expect(await store.head('buffer')).toBeNull();
    });

    it('leaves nothing behind when the body fails half way', async () => {
      const store = await options.create();
      await expect(store.put('broken/upload', failingStream(randomBytes(1000)))).rejects.toBeDefined();
      expect(await store.head('broken/upload')).toBeNull();
      expect(await collect(store.list(''))).toEqual([]);
    });

    it('overwrites an existing key', async () => {
      const store = await options.create();
      await store.put('k', Buffer.from('first'));
      await store.put('k', Buffer.from('second!'));
      expect((await store.getBuffer('k')).toString()).toBe('second!');
      expect((await store.head('k'))?.size).toBe(7);
    });

    it('reports missing objects as NOT_FOUND from get and null from head', async () => {
      const store = await options.create();
      await expect(store.get('missing/key')).rejects.toMatchObject({ code: ErrorCode.NotFound });
      await expect(store.getBuffer('missing/key')).rejects.toMatchObject({ code: ErrorCode.NotFound });
      expect(await store.head('missing/key')).toBeNull();
    });

    it('refuses to buffer more than maxBytes', async () => {
      const store = await options.create();
      await store.put('ten', Buffer.alloc(10, 1));
      expect((await store.getBuffer('ten', 10)).length).toBe(10);
      await expect(store.getBuffer('ten', 9)).rejects.toMatchObject({ code: ErrorCode.PayloadTooLarge });
    });

    it('lists by prefix in key order', async () => {
      const store = await options.create();
      const keys = ['x/b', 'y', 'x/a0', 'x/a/c/d', 'x/ab', 'x/a/b', 'x/a/c/e'];
      for (const key of keys) await store.put(key, Buffer.from(key));
      const all = await collect(store.list(''));
      expect(all.map((o) => o.key)).toEqual(['x/a/b', 'x/a/c/d', 'x/a/c/e', 'x/a0', 'x/ab', 'x/b', 'y']);
      expect(all.find((o) => o.key === 'x/a/b')?.size).toBe(5);
      expect((await collect(store.list('x/a/'))).map((o) => o.key)).toEqual(['x/a/b', 'x/a/c/d', 'x/a/c/e']);
      expect((await collect(store.list('x/a'))).map((o) => o.key)).toEqual([
        'x/a/b',
        'x/a/c/d',
        'x/a/c/e',
        'x/a0',
        'x/ab',
      ]);
      expect((await collect(store.list('x/a/c/d'))).map((o) => o.key)).toEqual(['x/a/c/d']);
      expect(await collect(store.list('nothing/here/'))).toEqual([]);
      expect(await collect(store.list('z'))).toEqual([]);
    });

    (options.listsInByteOrder === false ? it.skip : it)(
      "lists keys with characters that sort before '/' in byte order",
      async () => {
        const store = await options.create();
        const keys = ['p/a0', 'p/a/b', 'p/a.c', 'p/a-b', 'p/a b', 'p/a/c'];
        for (const key of keys) await store.put(key, Buffer.from(key));
        expect((await collect(store.list('p/'))).map((o) => o.key)).toEqual([
          'p/a b',
          'p/a-b',
          'p/a.c',
          'p/a/b',
          'p/a/c',
          'p/a0',
        ]);
      },
    );

    it('deletes idempotently', async () => {
      const store = await options.create();
      await store.put('d/one', Buffer.from('1'));
      await store.put('d/two', Buffer.from('2'));
      await store.delete('d/one');
      await store.delete('d/one');
      await store.delete('never/existed');
      expect(await store.head('d/one')).toBeNull();
      expect((await collect(store.list('d/'))).map((o) => o.key)).toEqual(['d/two']);
      await store.delete('d/two');
      expect(await collect(store.list(''))).toEqual([]);
      // A deleted key can be written again.
      await store.put('d/one', Buffer.from('again'));
      expect((await store.getBuffer('d/one')).toString()).toBe('again');
    });

    it('rejects invalid keys and prefixes with BAD_USER_INPUT', async () => {
      const store = await options.create();
      for (const key of INVALID_KEYS) {
        const bad = { code: ErrorCode.BadUserInput };
        await expect(store.put(key, Buffer.from('x'))).rejects.toMatchObject(bad);
        await expect(store.get(key)).rejects.toMatchObject(bad);
        await expect(store.getBuffer(key)).rejects.toMatchObject(bad);
        await expect(store.head(key)).rejects.toMatchObject(bad);
        await expect(store.delete(key)).rejects.toMatchObject(bad);
      }
      for (const prefix of ['../', '/abs', 'a//', 'a/../']) {
        await expect(collect(store.list(prefix))).rejects.toMatchObject({ code: ErrorCode.BadUserInput });
      }
    });

    it('stores content-addressed bytes once', async () => {
      const store = await options.create();
      const bytes = Buffer.from('the same image, twice');
      const first = await putContentAddressed(store, bytes, { contentType: 'image/png' });
      const second = await putContentAddressed(store, Buffer.from(bytes));
      expect(first).toEqual({
        key: sha256Hex(bytes),
        objectKey: contentKey(sha256Hex(bytes)),
        size: bytes.length,
        created: true,
      });
      expect(second).toEqual({ ...first, created: false });
      expect((await collect(store.list('objects/'))).map((o) => o.key)).toEqual([first.objectKey]);
      expect(await store.getBuffer(first.objectKey)).toEqual(bytes);
      const other = await putContentAddressed(store, Buffer.from('another'), { namespace: 'masks' });
      expect(other.objectKey.startsWith('masks/')).toBe(true);
      expect(other.created).toBe(true);
    });
  });
}
