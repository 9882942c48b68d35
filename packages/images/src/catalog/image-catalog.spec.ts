import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { ErrorCode, Role, type Principal } from '@vigil/contracts';
import type { DatabaseHandle } from '@vigil/db';
import { imageObjectKey } from '../object-key';
import {
  InMemoryImageRepository,
  InMemoryObjectStore,
  exifRotatedJpeg,
  openMigratedTestDatabase,
  syntheticImage,
  truncatedJpeg,
} from '../testing';
import { ImageCatalog } from './image-catalog';
import { KyselyImageRepository } from './kysely-image-repository';
import type { ImageRepository } from './types';

const operator: Principal = { id: 'key-op', name: 'line operator', role: Role.Operator };
const other: Principal = { id: 'key-2', name: 'second', role: Role.Operator };

/** Each call is one second later, so records have a known order. */
function steppingClock(): () => Date {
  let t = Date.UTC(2024, 0, 1);
  return () => new Date((t += 1000));
}

function image(seed: number): Promise<Buffer> {
  return syntheticImage({ format: 'png', width: 16, height: 12, seed });
}

let pg: DatabaseHandle;
beforeAll(async () => {
  pg = await openMigratedTestDatabase();
});
afterAll(() => pg.close());

const setups: Array<[string, () => Promise<ImageRepository>]> = [
  ['in-memory repository', async () => new InMemoryImageRepository()],
  [
    'Kysely repository on PGlite',
    async () => {
      await pg.db.deleteFrom('images').execute();
      return new KyselyImageRepository(pg.db);
    },
  ],
];

describe.each(setups)('ImageCatalog with %s', (_name, makeRepository) => {
  let images: ImageRepository;
  let store: InMemoryObjectStore;
  let catalog: ImageCatalog;

  beforeEach(async () => {
    images = await makeRepository();
    store = new InMemoryObjectStore();
    catalog = new ImageCatalog({ images, store, now: steppingClock() });
  });

  describe('ingest', () => {
    it('validates, stores the bytes content-addressed and records the image', async () => {
      const bytes = await syntheticImage({ format: 'tiff', width: 30, height: 20, bitDepth: 16, seed: 1 });
      const { image: record, deduplicated } = await catalog.ingest({
        bytes,
        originalName: ' line1/frame-001.tif ',
        metadata: {
          line: 'L1',
          station: 'S1',
          camera: 'C1',
          lot: 'LOT-9',
          capturedAt: new Date('2024-02-03T04:05:06Z'),
          tags: ['night', 'night', 'a'],
        },
        actor: operator,
      });
      expect(deduplicated).toBe(false);
      expect(record).toMatchObject({
        format: 'tiff',
        width: 30,
        height: 20,
        channels: 1,
        bitDepth: 16,
        byteSize: bytes.length,
        originalName: 'line1/frame-001.tif',
        line: 'L1',
        station: 'S1',
        camera: 'C1',
        lot: 'LOT-9',
        capturedAt: new Date('2024-02-03T04:05:06Z'),
        tags: ['night', 'a'],
        createdBy: operator.id,
      });
      expect(record.id).toMatch(/^[0-9a-f]{64}$/);
      const stored = store.objects.get(imageObjectKey(record.id));
      expect(stored?.bytes.equals(bytes)).toBe(true);
      expect(stored?.info.contentType).toBe('image/tiff');
      expect(await catalog.get(record.id)).toEqual(record);
    });

    it('records the real format and the displayed size, whatever the name says', async () => {
      const bmp = await syntheticImage({ format: 'bmp', width: 20, height: 10 });
      const { image: fromBmp } = await catalog.ingest({ bytes: bmp, originalName: 'camera.png', actor: operator });
      expect(fromBmp).toMatchObject({ format: 'bmp', originalName: 'camera.png', width: 20, height: 10, channels: 3 });
      const rotated = await exifRotatedJpeg({ width: 64, height: 32, orientation: 6 });
      const { image: fromJpeg } = await catalog.ingest({ bytes: rotated, actor: operator });
      expect(fromJpeg).toMatchObject({ format: 'jpeg', width: 32, height: 64 });
      expect(store.objects.get(imageObjectKey(fromBmp.id))?.info.contentType).toBe('image/bmp');
    });

    it('deduplicates identical bytes, filling empty fields and unioning tags', async () => {
      const bytes = await image(2);
      const first = await catalog.ingest({ bytes, metadata: { line: 'L1', tags: ['a', 'b'] }, actor: operator });
      const second = await catalog.ingest({
        bytes: Uint8Array.from(bytes),
        originalName: 'again.png',
        metadata: { line: 'L2', station: 'S7', lot: 'X', tags: ['b', 'c'] },
        actor: other,
      });
      expect(second.deduplicated).toBe(true);
      expect(second.image).toEqual({
        ...first.image,
        originalName: 'again.png',
        station: 'S7',
        lot: 'X',
        tags: ['a', 'b', 'c'],
      });
      expect(second.image.line).toBe('L1');
      expect(second.image.createdBy).toBe(operator.id);
      expect(store.puts).toBe(1);
    });

    it('returns the record untouched when a duplicate brings nothing new', async () => {
      const bytes = await image(3);
      const first = await catalog.ingest({ bytes, metadata: { line: 'L1', tags: ['a'] }, actor: operator });
      const again = await catalog.ingest({ bytes, metadata: { line: 'L9', tags: ['a'] }, actor: operator });
      expect(again).toEqual({ image: first.image, deduplicated: true });
    });

    it('survives concurrent ingests of the same bytes: one insert, the rest merge', async () => {
      const bytes = await image(4);
      const results = await Promise.all(
        ['t1', 't2', 't3', 't4', 't5'].map((tag) =>
          catalog.ingest({ bytes, metadata: { tags: [tag] }, actor: operator }),
        ),
      );
      expect(results.filter((r) => !r.deduplicated)).toHaveLength(1);
      expect(new Set(results.map((r) => r.image.id)).size).toBe(1);
      const record = await catalog.get(results[0]!.image.id);
      expect([...record.tags].sort()).toEqual(['t1', 't2', 't3', 't4', 't5']);
    });

    it('puts back a stored object that has gone missing when the bytes come again', async () => {
      const bytes = await image(5);
      const { image: record } = await catalog.ingest({ bytes, actor: operator });
      await store.delete(imageObjectKey(record.id));
      await catalog.ingest({ bytes, actor: operator });
      expect((await catalog.readBytes(record.id)).equals(bytes)).toBe(true);
    });

    it.each<[string, () => Promise<Buffer>, string]>([
      ['a truncated JPEG', () => truncatedJpeg(), ErrorCode.InvalidImage],
      ['a text file', async () => Buffer.from('hello'), ErrorCode.UnsupportedMediaType],
      [
        'a GIF',
        async () => Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00', 'latin1'),
        ErrorCode.UnsupportedMediaType,
      ],
    ])('stores nothing for %s', async (_name, make, code) => {
      await expect(catalog.ingest({ bytes: await make(), actor: operator })).rejects.toMatchObject({ code });
      expect(store.objects.size).toBe(0);
      expect((await catalog.list()).items).toEqual([]);
    });

    it('stores nothing for an image over the limits', async () => {
      const small = new ImageCatalog({ images, store, limits: { maxPixels: 100 } });
      await expect(small.ingest({ bytes: await image(6), actor: operator })).rejects.toMatchObject({
        code: ErrorCode.ImageTooLarge,
      });
      const tiny = new ImageCatalog({ images, store, limits: { maxBytes: 10 } });
      await expect(tiny.ingest({ bytes: await image(6), actor: operator })).rejects.toMatchObject({
        code: ErrorCode.ImageTooLarge,
      });
      expect(store.objects.size).toBe(0);
    });

    it('rejects invalid metadata and names before storing anything', async () => {
      const bytes = await image(7);
      await expect(
        catalog.ingest({ bytes, metadata: { line: 'x'.repeat(200) }, actor: operator }),
      ).rejects.toMatchObject({ code: ErrorCode.BadUserInput });
      await expect(catalog.ingest({ bytes, originalName: 'a\nb', actor: operator })).rejects.toMatchObject({
        code: ErrorCode.BadUserInput,
      });
      expect(store.objects.size).toBe(0);
    });
  });

  describe('reading', () => {
    it('gets one, many (aligned, null where missing) and the bytes', async () => {
      const a = (await catalog.ingest({ bytes: await image(10), actor: operator })).image;
      const b = (await catalog.ingest({ bytes: await image(11), actor: operator })).image;
      const missing = 'f'.repeat(64);
      expect(await catalog.getMany([b.id, missing, a.id, 'not-a-sha', b.id])).toEqual([b, null, a, null, b]);
      expect((await catalog.readBytes(a.id)).equals(await image(10))).toBe(true);
      await expect(catalog.get(missing)).rejects.toMatchObject({ code: ErrorCode.NotFound });
      await expect(catalog.get('../../etc/passwd')).rejects.toMatchObject({ code: ErrorCode.NotFound });
      await expect(catalog.readBytes(missing)).rejects.toMatchObject({ code: ErrorCode.NotFound });
    });

    it('refuses to return stored bytes that no longer match their digest', async () => {
      const { image: record } = await catalog.ingest({ bytes: await image(12), actor: operator });
      await store.put(imageObjectKey(record.id), await image(13));
      await expect(catalog.readBytes(record.id)).rejects.toMatchObject({ code: ErrorCode.Internal });
    });
  });

  describe('list', () => {
    async function ingestSeven() {
      const ids: string[] = [];
      for (let seed = 20; seed < 27; seed++) {
        const { image: record } = await catalog.ingest({
          bytes: await image(seed),
          metadata: {
            line: seed % 2 === 0 ? 'even' : 'odd',
            capturedAt: new Date(Date.UTC(2024, 5, seed - 19)),
            tags: seed % 3 === 0 ? ['third'] : [],
          },
          actor: operator,
        });
        ids.push(record.id);
      }
      return ids;
    }

    it('pages newest first with a keyset cursor, without gaps or repeats', async () => {
      const ids = await ingestSeven();
      const seen: string[] = [];
      let after: string | null = null;
      const hasNext: boolean[] = [];
      for (;;) {
        const page = await catalog.list({ first: 3, after });
        seen.push(...page.items.map((r) => r.id));
        hasNext.push(page.pageInfo.hasNextPage);
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(seen).toEqual([...ids].reverse());
      expect(hasNext).toEqual([true, true, false]);
    });

    it('filters', async () => {
      const ids = await ingestSeven();
      const list = async (filters: object) =>
        (await catalog.list({ filters, first: 100 })).items.map((r) => ids.indexOf(r.id));
      expect(await list({ line: 'odd' })).toEqual([5, 3, 1]);
      expect(await list({ tag: 'third' })).toEqual([4, 1]);
      expect(
        await list({ capturedFrom: new Date(Date.UTC(2024, 5, 3)), capturedTo: new Date(Date.UTC(2024, 5, 5)) }),
      ).toEqual([3, 2]);
      expect(await list({ line: 'even', capturedFrom: new Date(Date.UTC(2024, 5, 4)) })).toEqual([6, 4]);
    });

    it('returns an empty page with no cursor when nothing matches', async () => {
      expect(await catalog.list({ filters: { lot: 'none' } })).toEqual({
        items: [],
        pageInfo: { hasNextPage: false, endCursor: null },
      });
    });

    it.each<[string, object]>([
      ['first 0', { first: 0 }],
      ['first 501', { first: 501 }],
      ['a fractional first', { first: 2.5 }],
      ['a garbage cursor', { after: 'not-a-cursor' }],
      [
        'a cursor with a bad id',
        { after: Buffer.from('{"t":"2024-01-01T00:00:00.000Z","i":"x"}').toString('base64url') },
      ],
      ['an unknown filter', { filters: { colour: 'red' } }],
    ])('rejects %s as BAD_USER_INPUT', async (_name, input) => {
      await expect(catalog.list(input)).rejects.toMatchObject({ code: ErrorCode.BadUserInput });
    });
  });
});
