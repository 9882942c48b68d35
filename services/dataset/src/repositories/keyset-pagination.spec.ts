import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DatabaseHandle, ProjectRow } from '@vigil/db';
import type { Cursor } from '@vigil/service-kit';
import { openMigratedTestDatabase } from '@vigil/images/src/testing';
import { KyselyDatasetRepository } from './datasets';
import { KyselyEntryRepository, type EntryFilter } from './entries';
import { KyselyProjectRepository } from './projects';

/**
 * Rows written in one transaction share created_at (now() is the transaction's start), so keyset pages must
 * break ties on id or they skip or repeat rows.
 */
let handle: DatabaseHandle;
let datasetId: string;

const imageId = (n: number) => createHash('sha256').update(`page-${n}`).digest('hex');

async function drain<T extends { id: string; created_at: Date }>(
  fetch: (limit: number, after: Cursor | null) => Promise<T[]>,
  limit: number,
): Promise<T[]> {
  const seen: T[] = [];
  let after: Cursor | null = null;
  for (let guard = 0; guard < 100; guard++) {
    const rows = await fetch(limit, after);
    const page = rows.slice(0, limit);
    seen.push(...page);
    const last = page.at(-1);
    if (rows.length <= limit || !last) return seen;
    after = { createdAt: last.created_at, id: last.id };
  }
  throw new Error('pagination did not end');
}

beforeAll(async () => {
  handle = await openMigratedTestDatabase();
});
afterAll(() => handle.close());

describe('KyselyProjectRepository.list', () => {
  it('pages through rows with identical created_at without skipping or repeating', async () => {
    const repo = new KyselyProjectRepository(handle.db);
    const inserted = await handle.db.transaction().execute(async (trx) => {
      const rows: ProjectRow[] = [];
      for (let i = 0; i < 7; i++)
        rows.push((await repo.insert({ name: `same-${i}`, description: null, createdBy: 't' }, trx))!);
      return rows;
    });
    expect(new Set(inserted.map((r) => r.created_at.getTime())).size).toBe(1);
    for (const limit of [1, 2, 3, 7, 10]) {
      const seen = await drain((l, after) => repo.list(l, after), limit);
      expect(seen.map((r) => r.id)).toEqual([...inserted.map((r) => r.id)].sort());
    }
  });
});

describe('KyselyEntryRepository.list', () => {
  beforeAll(async () => {
    const project = await new KyselyProjectRepository(handle.db).insert({
      name: 'entries',
      description: null,
      createdBy: 't',
    });
    datasetId = (await new KyselyDatasetRepository(handle.db).ensure(project!.id, 'train')).dataset.id;
    await handle.db
      .insertInto('images')
      .values(
        Array.from({ length: 9 }, (_, n) => ({
          id: imageId(n),
          format: 'png',
          width: 1,
          height: 1,
          channels: 1,
          bit_depth: 8,
          byte_size: 1,
          tags: '[]',
          created_by: 't',
        })),
      )
      .execute();
    // One statement: all nine entries share created_at.
    await new KyselyEntryRepository(handle.db).upsert(
      datasetId,
      Array.from({ length: 9 }, (_, n) => ({
        imageId: imageId(n),
        label: n % 3 === 0 ? 'anomaly' : 'normal',
        maskKey: n % 3 === 0 ? `masks/${n}` : null,
        maskClasses: [],
        sourceRef: null,
      })),
    );
  });

  it.each([1, 2, 4, 9])('pages through tied rows with page size %i', async (limit) => {
    const repo = new KyselyEntryRepository(handle.db);
    const all = await repo.listAll(datasetId);
    expect(all).toHaveLength(9);
    expect(new Set(all.map((r) => r.created_at.getTime())).size).toBe(1);
    const seen = await drain((l, after) => repo.list(datasetId, {}, l, after), limit);
    expect(seen.map((r) => r.id)).toEqual(all.map((r) => r.id));
    expect([...seen.map((r) => r.id)].sort()).toEqual(seen.map((r) => r.id));
  });

  it.each<[EntryFilter, number]>([
    [{ label: 'anomaly' }, 3],
    [{ label: 'normal' }, 6],
    [{ hasMask: true }, 3],
    [{ hasMask: false }, 6],
    [{ label: 'normal', hasMask: true }, 0],
  ])('applies filter %j across pages', async (filter, expected) => {
    const repo = new KyselyEntryRepository(handle.db);
    const seen = await drain((l, after) => repo.list(datasetId, filter, l, after), 2);
    expect(seen).toHaveLength(expected);
    expect(new Set(seen.map((r) => r.id)).size).toBe(expected);
  });
});
