import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { DatabaseHandle } from '@vigil/db';
import { openMigratedTestDatabase } from '@vigil/images/src/testing';
import { listKeyRows, revokeKeyRow, touchKeyRow, type KeyTable } from './key-rows';

let handle: DatabaseHandle;

beforeAll(async () => {
  handle = await openMigratedTestDatabase();
});
afterAll(() => handle.close());

/** Inserts a live row into `table` with only the columns that table needs. */
async function insert(table: KeyTable, name: string, createdAt: Date): Promise<string> {
  const common = { name, role: 'viewer', created_by: 'spec', created_at: createdAt };
  const row =
    table === 'api_keys'
      ? await handle.db
          .insertInto('api_keys')
          .values({ ...common, prefix: name.padEnd(12, 'x'), secret_hash: 'a'.repeat(64) })
          .returning('id')
          .executeTakeFirstOrThrow()
      : await handle.db
          .insertInto('access_key_pairs')
          .values({ ...common, access_key_id: `VGLA${name.toUpperCase().padEnd(16, 'A')}`, secret_ciphertext: 'v1.x' })
          .returning('id')
          .executeTakeFirstOrThrow();
  return row.id;
}

// The shared queries run against both tables, so each case is checked on each.
describe.each<KeyTable>(['api_keys', 'access_key_pairs'])('key rows in %s', (table) => {
  beforeEach(async () => {
    await handle.db.deleteFrom(table).execute();
  });

  it('lists every row oldest first, with the full row', async () => {
    await insert(table, 'later', new Date('2024-05-02T00:00:00Z'));
    await insert(table, 'earlier', new Date('2024-05-01T00:00:00Z'));
    const rows = await listKeyRows(handle.db, table);
    expect(rows.map((r) => r.name)).toEqual(['earlier', 'later']);
    expect(rows[0]).toHaveProperty(table === 'api_keys' ? 'secret_hash' : 'secret_ciphertext');
  });

  it('revokes once; a second revoke keeps the first time and an unknown id is undefined', async () => {
    const id = await insert(table, 'k', new Date('2024-05-01T00:00:00Z'));
    const first = new Date('2024-05-03T00:00:00Z');
    const revoked = await revokeKeyRow(handle.db, table, id, first);
    expect(revoked?.revokedNow).toBe(true);
    expect(revoked?.row.revoked_at).toEqual(first);
    const again = await revokeKeyRow(handle.db, table, id, new Date('2024-05-04T00:00:00Z'));
    expect(again?.revokedNow).toBe(false);
    expect(again?.row.revoked_at).toEqual(first);
    expect(await revokeKeyRow(handle.db, table, '00000000-0000-4000-8000-000000000000', first)).toBeUndefined();
  });

  it('stamps last use', async () => {
    const id = await insert(table, 'k', new Date('2024-05-01T00:00:00Z'));
    const at = new Date('2024-05-05T00:00:00Z');
    await touchKeyRow(handle.db, table, id, at);
    const [row] = await listKeyRows(handle.db, table);
    expect(row?.last_used_at).toEqual(at);
  });
});
