import { Migrator, type Kysely, type MigrationResultSet } from 'kysely';
import { VigilError, ErrorCode } from '@vigil/contracts';
import { migrationProvider } from './migrations';

export interface MigrationReport {
  readonly applied: readonly string[];
}

/** Brings the schema to the latest version; safe to run from several processes at once (Kysely locks). */
export async function migrateToLatest<DB>(db: Kysely<DB>): Promise<MigrationReport> {
  // Migrations are written against Kysely<unknown>: they must not depend on today's schema types.
  const migrator = new Migrator({ db: db as Kysely<unknown>, provider: migrationProvider });
  const result: MigrationResultSet = await migrator.migrateToLatest();
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new VigilError(
      ErrorCode.Internal,
      `migration ${failed} failed: ${String(result.error)}`,
      { migration: failed },
      { cause: result.error },
    );
  }
  return { applied: (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}
