import { migrateToLatest, openDatabase, type DatabaseHandle, type Kysely } from '@vigil/db';

/** An in-memory PGlite with the current schema, for repository tests. */
export async function openMigratedTestDatabase(): Promise<DatabaseHandle> {
  const handle = await openDatabase({ kind: 'embedded', dataDir: null });
  // migrateToLatest takes Kysely<unknown>, which Kysely<Database> is not assignable to (kysely's fn.any
  // variance), so the typed handle is widened here once.
  await migrateToLatest(handle.db as unknown as Kysely<unknown>);
  return handle;
}
