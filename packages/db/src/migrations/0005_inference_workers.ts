import { type Kysely, sql } from 'kysely';

// Same precision as 0001: timestamps round-trip exactly through JS Dates.
const TIMESTAMP = sql`timestamptz(3)`;

export async function up(db: Kysely<unknown>): Promise<void> {
  // Training service: the size every training image had, so detection can refuse another size (Lookout
  // requires the dimensions of the training images). Null: trained on mixed sizes, any size is accepted.
  await db.schema.alterTable('model_versions').addColumn('image_width', 'integer').execute();
  await db.schema.alterTable('model_versions').addColumn('image_height', 'integer').execute();

  // Inference service: one row per inference process, refreshed by its heartbeat, with the artifact digests
  // it has loaded. A row whose last_seen_at is old belongs to a process that died.
  await db.schema
    .createTable('inference_workers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('pid', 'integer', (c) => c.notNull())
    .addColumn('loaded_digests', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('started_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('inference_workers_last_seen').on('inference_workers').column('last_seen_at').execute();

  // The autoscaling gauge counts each hosted version's pending inspections at every scrape: only those rows.
  await sql`create index inspections_pending on inspections (model_version_id) where status in ('QUEUED', 'RUNNING')`.execute(
    db,
  );

  // Inference service: automatic inspection of newly ingested images, at most one setting per project.
  await db.schema
    .createTable('auto_inspections')
    .addColumn('project_id', 'uuid', (c) => c.primaryKey().references('projects.id').onDelete('cascade'))
    .addColumn('model_version_id', 'uuid', (c) => c.notNull().references('model_versions.id').onDelete('cascade'))
    .addColumn('enabled', 'boolean', (c) => c.notNull())
    .addColumn('line', 'text')
    .addColumn('station', 'text')
    .addColumn('camera', 'text')
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('auto_inspections').ifExists().execute();
  await db.schema.dropTable('inference_workers').ifExists().execute();
  await sql`drop index if exists inspections_pending`.execute(db);
  await db.schema.alterTable('model_versions').dropColumn('image_height').execute();
  await db.schema.alterTable('model_versions').dropColumn('image_width').execute();
}
