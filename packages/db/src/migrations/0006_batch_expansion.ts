import { type Kysely, sql } from 'kysely';

/**
 * Inference service: a batch is expanded into its inspections by a background job, so a request naming 20,000
 * images (or an S3 prefix, which must first be listed and ingested) answers at once, and a crash mid-expansion
 * is repaired by the job's retry. `source` keeps what the batch names; EXPANDING holds the batch open while its
 * inspections are still being created; FAILED is a batch whose source could not be read.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('inspection_batches').addColumn('source', 'jsonb').execute();
  await db.schema.alterTable('inspection_batches').addColumn('error', 'jsonb').execute();
  await db.schema
    .alterTable('inspection_batches')
    .addColumn('skipped', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await sql`alter table inspection_batches drop constraint inspection_batches_status_check`.execute(db);
  await sql`alter table inspection_batches add constraint inspection_batches_status_check
    check (status in ('EXPANDING', 'RUNNING', 'DONE', 'FAILED'))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table inspection_batches drop constraint inspection_batches_status_check`.execute(db);
  await sql`update inspection_batches set status = 'DONE' where status not in ('RUNNING', 'DONE')`.execute(db);
  await sql`alter table inspection_batches add constraint inspection_batches_status_check
    check (status in ('RUNNING', 'DONE'))`.execute(db);
  await db.schema.alterTable('inspection_batches').dropColumn('skipped').execute();
  await db.schema.alterTable('inspection_batches').dropColumn('error').execute();
  await db.schema.alterTable('inspection_batches').dropColumn('source').execute();
}
