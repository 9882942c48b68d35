import { randomBytes } from 'node:crypto';
import { migrateToLatest, openDatabase, sql, type DatabaseHandle, type Kysely } from '@vigil/db';

export interface TestDatabase {
  readonly handle: DatabaseHandle;
  readonly name: string;
  /** Closes the handle and drops the database. */
  drop(): Promise<void>;
}

/**
 * A fresh, migrated database on the server of `baseUrl` (e.g. VIGIL_TEST_DATABASE_URL), so test runs never
 * see each other's rows. Needs permission to create databases.
 */
export async function createTestDatabase(baseUrl: string, namePrefix = 'vigil_test'): Promise<TestDatabase> {
  const name = `${namePrefix}_${randomBytes(6).toString('hex')}`;
  const admin = await openDatabase({ kind: 'postgres', url: baseUrl, poolSize: 1 });
  try {
    await sql`create database ${sql.id(name)}`.execute(admin.db);
  } finally {
    await admin.close();
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const handle = await openDatabase({ kind: 'postgres', url: url.toString(), poolSize: 4 });
  await migrateToLatest(handle.db as unknown as Kysely<unknown>);
  return {
    handle,
    name,
    async drop() {
      await handle.close();
      const dropper = await openDatabase({ kind: 'postgres', url: baseUrl, poolSize: 1 });
      try {
        // pg's pool.end() resolves before its sockets are closed; a forced drop while they close would
        // make the server terminate them, which reaches the closing clients as an unhandled error.
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
          const { rows } = await sql<{ n: number }>`
            select count(*)::int as n from pg_stat_activity where datname = ${name}`.execute(dropper.db);
          if ((rows[0]?.n ?? 0) === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await sql`drop database if exists ${sql.id(name)} with (force)`.execute(dropper.db);
      } finally {
        await dropper.close();
      }
    },
  };
}
