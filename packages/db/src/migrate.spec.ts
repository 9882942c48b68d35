import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from './connect';
import { migrateToLatest } from './migrate';

describe('migrations on embedded PGlite', () => {
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await openDatabase({ kind: 'embedded', dataDir: null });
  });
  afterAll(() => handle.close());

  it('applies every migration once, then nothing', async () => {
    const first = await migrateToLatest(handle.db);
    expect(first.applied).toContain('0001_foundation');
    const second = await migrateToLatest(handle.db);
    expect(second.applied).toEqual([]);
  });

  it('keeps the audit log append-only', async () => {
    await handle.db
      .insertInto('audit_log')
      .values({
        actor_id: 'k1',
        actor_name: 'tester',
        action: 'project.create',
        entity_type: 'project',
        entity_id: 'p1',
        before: null,
        after: '{"name":"a"}',
        request_id: null,
      })
      .execute();
    await expect(handle.db.updateTable('audit_log').set({ action: 'forged' }).execute()).rejects.toThrow(/append-only/);
    await expect(handle.db.deleteFrom('audit_log').execute()).rejects.toThrow(/append-only/);
    const rows = await handle.db.selectFrom('audit_log').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.after).toEqual({ name: 'a' });
  });

  it('parses bigint columns as numbers', async () => {
    const row = await sql<{ n: number }>`select 12345678901::bigint as n`.execute(handle.db);
    expect(row.rows[0]?.n).toBe(12345678901);
  });
});
