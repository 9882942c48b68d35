import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Kysely } from 'kysely';
import { openDatabase, type DatabaseHandle } from './connect';
import { migrateToLatest } from './migrate';
import { keysetPage, type KeysetCursor } from './paging';

/**
 * id order deliberately disagrees with created_at order across the two instants, and each instant holds
 * ties, so a cursor on id alone, on created_at alone, or with `>=` skips or repeats rows.
 */
const early = new Date('2024-01-01T00:00:00.000Z');
const late = new Date('2024-01-02T00:00:00.000Z');
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const rows = [
  { id: uuid(5), created_at: early },
  { id: uuid(4), created_at: late },
  { id: uuid(3), created_at: early },
  { id: uuid(1), created_at: late },
  { id: uuid(2), created_at: late },
];
const expectedOrder = [uuid(3), uuid(5), uuid(1), uuid(2), uuid(4)];

let handle: DatabaseHandle;

beforeAll(async () => {
  handle = await openDatabase({ kind: 'embedded', dataDir: null });
  await migrateToLatest(handle.db as unknown as Kysely<unknown>);
  await handle.db
    .insertInto('projects')
    .values(rows.map((r) => ({ ...r, name: `paging-${r.id}`, description: null, created_by: 't' })))
    .execute();
});
afterAll(() => handle.close());

const page = (after: KeysetCursor | null, limit: number) =>
  keysetPage(handle.db.selectFrom('projects').select(['id', 'created_at']), after, limit).execute();

describe('keysetPage', () => {
  it('starts at the first row and fetches one extra to signal a next page', async () => {
    const first = await page(null, 2);
    expect(first.map((r) => r.id)).toEqual(expectedOrder.slice(0, 3));
  });

  it.each([1, 2, 3, 5, 6])('walks every row once, in (created_at, id) order, with page size %i', async (limit) => {
    const seen: string[] = [];
    let after: KeysetCursor | null = null;
    for (let guard = 0; guard < 10; guard++) {
      const fetched = await page(after, limit);
      const pageRows = fetched.slice(0, limit);
      seen.push(...pageRows.map((r) => r.id));
      const last = pageRows.at(-1);
      if (fetched.length <= limit || !last) break;
      after = { createdAt: last.created_at, id: last.id };
    }
    expect(seen).toEqual(expectedOrder);
  });

  it('resumes after a cursor that is not itself a row', async () => {
    const rest = await page({ createdAt: early, id: uuid(4) }, 10);
    expect(rest.map((r) => r.id)).toEqual(expectedOrder.slice(1));
  });

  it('keeps other conditions and uses unqualified columns', () => {
    const query = handle.db.selectFrom('projects').selectAll().where('name', '=', 'x');
    const compiled = keysetPage(query, { createdAt: early, id: uuid(1) }, 10).compile();
    expect(compiled.sql).toBe(
      'select * from "projects" where "name" = $1 and ("created_at" > $2 or ("created_at" = $3 and "id" > $4))' +
        ' order by "created_at", "id" limit $5',
    );
    expect(compiled.parameters).toEqual(['x', early, early, uuid(1), 11]);
  });
});
