import { type Kysely, sql } from 'kysely';

// Same precision as 0001: timestamps round-trip exactly through JS Dates (keyset cursors rely on it).
const TIMESTAMP = sql`timestamptz(3)`;

/** Lookout's model statuses; the training service drives the first three and DELETING. */
const MODEL_STATUSES = [
  'TRAINING',
  'TRAINED',
  'TRAINING_FAILED',
  'STARTING_HOSTING',
  'HOSTED',
  'HOSTING_FAILED',
  'STOPPING_HOSTING',
  'DELETING',
];

export async function up(db: Kysely<unknown>): Promise<void> {
  // Version numbers are never reused, even after a version is deleted: audit rows and records that name
  // "version 2" must keep meaning one model. The counter row goes with its project.
  await db.schema
    .createTable('model_version_counters')
    .addColumn('project_id', 'uuid', (c) => c.primaryKey().references('projects.id').onDelete('cascade'))
    .addColumn('last_version', 'integer', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('model_versions')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('project_id', 'uuid', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version >= 1`))
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in (${sql.join(MODEL_STATUSES.map((s) => sql.lit(s)))})`),
    )
    .addColumn('status_message', 'text')
    .addColumn('description', 'text')
    .addColumn('idempotency_key', 'text', (c) => c.unique())
    .addColumn('job_id', 'uuid')
    .addColumn('artifact_key', 'text')
    .addColumn('artifact_sha256', 'text')
    .addColumn('artifact_bytes', 'bigint')
    .addColumn('dataset_digest', 'text')
    .addColumn('engine_config', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('engine_summary', 'jsonb')
    .addColumn('metrics', 'jsonb')
    .addColumn('timings', 'jsonb')
    .addColumn('logs', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('trained_at', TIMESTAMP)
    .addUniqueConstraint('model_versions_project_version', ['project_id', 'version'])
    .execute();
  await db.schema.createIndex('model_versions_job').on('model_versions').column('job_id').execute();

  await db.schema
    .createTable('model_evaluations')
    .addColumn('model_version_id', 'uuid', (c) => c.notNull().references('model_versions.id').onDelete('cascade'))
    .addColumn('image_id', 'text', (c) => c.notNull().references('images.id'))
    .addColumn('expected', 'text', (c) => c.notNull().check(sql`expected in ('normal', 'anomaly')`))
    .addColumn('score', 'double precision', (c) => c.notNull())
    .addColumn('raw_score', 'double precision', (c) => c.notNull())
    .addColumn('verdict', 'text', (c) => c.notNull().check(sql`verdict in ('normal', 'anomaly')`))
    .addColumn('correct', 'boolean', (c) => c.notNull())
    .addColumn('mask_key', 'text')
    .addColumn('created_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('model_evaluations_pkey', ['model_version_id', 'image_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('model_evaluations').ifExists().execute();
  await db.schema.dropTable('model_versions').ifExists().execute();
  await db.schema.dropTable('model_version_counters').ifExists().execute();
}
