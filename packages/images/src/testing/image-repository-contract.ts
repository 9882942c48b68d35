import { beforeEach, describe, expect, it } from '@jest/globals';
import type { ImageRecord, ImageRepository, NewImage } from '../catalog/types';

/** A sha256-shaped id from a small number, so tests can predict id order. */
export function fakeImageId(n: number): string {
  return n.toString(16).padStart(64, '0');
}

export function fakeImage(n: number, overrides: Partial<NewImage> = {}): NewImage {
  return {
    id: fakeImageId(n),
    format: 'png',
    width: 10,
    height: 8,
    channels: 1,
    bitDepth: 8,
    byteSize: 100 + n,
    originalName: null,
    line: null,
    station: null,
    camera: null,
    lot: null,
    capturedAt: null,
    tags: [],
    createdAt: new Date(Date.UTC(2024, 0, 1, 0, 0, n)),
    createdBy: 'tester',
    ...overrides,
  };
}

/** The behaviour every ImageRepository must share; run against the SQL and the in-memory one. */
export function describeImageRepositoryContract(name: string, makeRepository: () => Promise<ImageRepository>): void {
  describe(`${name} (ImageRepository contract)`, () => {
    let repo: ImageRepository;
    beforeEach(async () => {
      repo = await makeRepository();
    });

    it('inserts once and reports an existing id as null', async () => {
      const inserted = await repo.insertIfAbsent(fakeImage(1, { tags: ['a'], line: 'L1' }));
      expect(inserted).toEqual(fakeImage(1, { tags: ['a'], line: 'L1' }));
      expect(await repo.insertIfAbsent(fakeImage(1, { line: 'other' }))).toBeNull();
      expect((await repo.findById(fakeImageId(1)))?.line).toBe('L1');
    });

    it('finds by id and by ids', async () => {
      await repo.insertIfAbsent(fakeImage(1));
      await repo.insertIfAbsent(fakeImage(2));
      expect(await repo.findById(fakeImageId(3))).toBeNull();
      const found = await repo.findByIds([fakeImageId(2), fakeImageId(3), fakeImageId(1), fakeImageId(2)]);
      expect(found.map((r) => r.id).sort()).toEqual([fakeImageId(1), fakeImageId(2)]);
      expect(await repo.findByIds([])).toEqual([]);
    });

    it('merges metadata: fills only empty fields, appends new tags in order', async () => {
      await repo.insertIfAbsent(fakeImage(1, { line: 'L1', tags: ['x', 'y'] }));
      const capturedAt = new Date('2024-03-04T05:06:07.089Z');
      const merged = await repo.mergeMetadata(fakeImageId(1), {
        originalName: 'a.png',
        line: 'L2',
        station: 'S1',
        camera: 'C1',
        lot: 'LOT',
        capturedAt,
        tags: ['z', 'x', 'w'],
      });
      expect(merged).toMatchObject({
        originalName: 'a.png',
        line: 'L1',
        station: 'S1',
        camera: 'C1',
        lot: 'LOT',
        capturedAt,
        tags: ['x', 'y', 'z', 'w'],
      });
      expect(await repo.findById(fakeImageId(1))).toEqual(merged);
      expect(await repo.mergeMetadata(fakeImageId(9), { line: 'L' })).toBeNull();
    });

    it('lists newest first, ties broken by id, and continues after a position', async () => {
      const sameTime = new Date(Date.UTC(2024, 0, 2));
      for (const n of [1, 2, 3]) await repo.insertIfAbsent(fakeImage(n));
      for (const n of [4, 5]) await repo.insertIfAbsent(fakeImage(n, { createdAt: sameTime }));
      const all = await repo.list({ filters: {}, limit: 10, after: null });
      expect(all.map((r) => r.record.id)).toEqual([5, 4, 3, 2, 1].map(fakeImageId));
      const afterSecond = await repo.list({ filters: {}, limit: 2, after: all[1]!.position });
      expect(afterSecond.map((r) => r.record.id)).toEqual([3, 2].map(fakeImageId));
      const afterFirst = await repo.list({ filters: {}, limit: 10, after: all[0]!.position });
      expect(afterFirst.map((r) => r.record.id)).toEqual([4, 3, 2, 1].map(fakeImageId));
    });

    it('filters by line, station, camera, lot, tag and capture time', async () => {
      const at = (day: number) => new Date(Date.UTC(2024, 4, day));
      await repo.insertIfAbsent(
        fakeImage(1, { line: 'L1', station: 'S1', camera: 'C1', lot: 'A', tags: ['t1'], capturedAt: at(1) }),
      );
      await repo.insertIfAbsent(
        fakeImage(2, { line: 'L1', station: 'S2', camera: 'C2', lot: 'B', tags: ['t1', 't2'], capturedAt: at(2) }),
      );
      await repo.insertIfAbsent(
        fakeImage(3, { line: 'L2', station: 'S1', camera: 'C1', lot: 'A', tags: [], capturedAt: at(3) }),
      );
      await repo.insertIfAbsent(fakeImage(4));
      const ids = async (filters: Parameters<ImageRepository['list']>[0]['filters']) =>
        (await repo.list({ filters, limit: 10, after: null })).map((r) => Number.parseInt(r.record.id, 16)).sort();
      expect(await ids({ line: 'L1' })).toEqual([1, 2]);
      expect(await ids({ station: 'S1' })).toEqual([1, 3]);
      expect(await ids({ camera: 'C2' })).toEqual([2]);
      expect(await ids({ lot: 'A', line: 'L2' })).toEqual([3]);
      expect(await ids({ tag: 't1' })).toEqual([1, 2]);
      expect(await ids({ tag: 't2' })).toEqual([2]);
      expect(await ids({ tag: 'none' })).toEqual([]);
      expect(await ids({ capturedFrom: at(2) })).toEqual([2, 3]);
      expect(await ids({ capturedTo: at(2) })).toEqual([1]);
      expect(await ids({ capturedFrom: at(1), capturedTo: at(3) })).toEqual([1, 2]);
    });

    it('round-trips every field', async () => {
      const full: ImageRecord = fakeImage(7, {
        format: 'tiff',
        width: 4000,
        height: 3000,
        channels: 3,
        bitDepth: 16,
        byteSize: 72_000_123,
        originalName: 'cam1/frame 0001.tif',
        line: 'L',
        station: 'S',
        camera: 'C',
        lot: 'LOT-1',
        capturedAt: new Date('2024-06-01T12:00:00.123Z'),
        tags: ['b', 'a'],
        createdBy: 'key-1',
      });
      await repo.insertIfAbsent(full);
      expect(await repo.findById(full.id)).toEqual(full);
    });
  });
}
