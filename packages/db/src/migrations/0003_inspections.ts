import { type Kysely, sql } from 'kysely';

// Same precision as 0001: timestamps round-trip exactly through JS Dates (keyset cursors rely on it).
const TIMESTAMP = sql`timestamptz(3)`;

const INSPECTION_STATUSES = ['QUEUED', 'RUNNING', 'DONE', 'FAILED'];
const BATCH_STATUSES = ['RUNNING', 'DONE'];
const HOSTING_STATES = ['HOSTED', 'STOPPED'];
const ACTUAL_STATES = ['STARTING', 'HOSTED', 'FAILED', 'STOPPING', 'STOPPED'];

const oneOf = (column: string, values: readonly string[]) =>
  sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;

export async function up(db: Kysely<unknown>): Promise<void> {
  // Owned by the inference service: what an operator asked for a version's hosting and what the workers did.
  await db.schema
    .createTable('model_deployments')
    .addColumn('model_version_id', 'uuid', (c) => c.primaryKey().references('model_versions.id').onDelete('cascade'))
    .addColumn('min_workers', 'integer', (c) => c.notNull().check(sql`min_workers >= 1`))
    .addColumn('max_workers', 'integer', (c) => c.notNull())
    .addColumn('desired_state', 'text', (c) => c.notNull().check(oneOf('desired_state', HOSTING_STATES)))
    .addColumn('actual_state', 'text', (c) => c.notNull().check(oneOf('actual_state', ACTUAL_STATES)))
    .addColumn('message', 'text')
    .addColumn('updated_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('model_deployments_workers', sql`max_workers >= min_workers`)
    .execute();

  await db.schema
    .createTable('inspection_batches')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('project_id', 'uuid', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('model_version_id', 'uuid', (c) => c.notNull().references('model_versions.id').onDelete('cascade'))
    .addColumn('total', 'integer', (c) => c.notNull())
    .addColumn('done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('status', 'text', (c) => c.notNull().check(oneOf('status', BATCH_STATUSES)))
    .addColumn('idempotency_key', 'text', (c) => c.unique())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', TIMESTAMP)
    .execute();

  // Every verdict is a record. No foreign key to model_versions: a record outlives a deleted version.
  await db.schema
    .createTable('inspections')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('project_id', 'uuid', (c) => c.notNull())
    .addColumn('model_version_id', 'uuid', (c) => c.notNull())
    .addColumn('model_version', 'integer', (c) => c.notNull())
    .addColumn('artifact_sha256', 'text', (c) => c.notNull())
    .addColumn('image_id', 'text', (c) => c.notNull().references('images.id'))
    .addColumn('batch_id', 'uuid', (c) => c.references('inspection_batches.id').onDelete('set null'))
    .addColumn('status', 'text', (c) => c.notNull().check(oneOf('status', INSPECTION_STATUSES)))
    .addColumn('verdict', 'text', (c) => c.check(sql`verdict is null or verdict in ('normal', 'anomaly')`))
    .addColumn('score', 'double precision')
    .addColumn('raw_score', 'double precision')
    .addColumn('threshold', 'double precision')
    .addColumn('confidence', 'double precision')
    .addColumn('heatmap_key', 'text')
    .addColumn('mask_key', 'text')
    .addColumn('anomalies', 'jsonb')
    .addColumn('line', 'text')
    .addColumn('station', 'text')
    .addColumn('camera', 'text')
    .addColumn('lot', 'text')
    .addColumn('captured_at', TIMESTAMP)
    .addColumn('timings', 'jsonb')
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.unique())
    .addColumn('job_id', 'uuid')
    .addColumn('error', 'jsonb')
    .addColumn('created_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', TIMESTAMP)
    .addColumn('finished_at', TIMESTAMP)
    .execute();
  // Listing is newest first (created_at desc, id desc) within the filters people use.
  for (const [name, columns] of [
    ['inspections_project', ['project_id', 'created_at', 'id']],
    ['inspections_model_version', ['model_version_id', 'created_at', 'id']],
    ['inspections_batch', ['batch_id', 'created_at', 'id']],
    ['inspections_line', ['line', 'station', 'created_at']],
    ['inspections_lot', ['lot', 'created_at']],
    ['inspections_created', ['created_at', 'id']],
  ] as const) {
    await db.schema
      .createIndex(name)
      .on('inspections')
      .columns([...columns])
      .execute();
  }

  // Append-only: an override adds a row, the model's verdict stays on the inspection.
  await db.schema
    .createTable('inspection_overrides')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('inspection_id', 'uuid', (c) => c.notNull().references('inspections.id'))
    .addColumn('verdict', 'text', (c) => c.notNull().check(sql`verdict in ('normal', 'anomaly')`))
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('actor_id', 'text', (c) => c.notNull())
    .addColumn('actor_name', 'text', (c) => c.notNull())
    .addColumn('at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('inspection_overrides_inspection')
    .on('inspection_overrides')
    .columns(['inspection_id', 'at'])
    .execute();
  await sql`
    create or replace function inspection_overrides_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'inspection_overrides is append-only';
    end $$`.execute(db);
  await sql`
    create trigger inspection_overrides_no_change before update or delete on inspection_overrides
    for each row execute function inspection_overrides_append_only()`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('inspection_overrides').ifExists().execute();
  await sql`drop function if exists inspection_overrides_append_only()`.execute(db);
  await db.schema.dropTable('inspections').ifExists().execute();
  await db.schema.dropTable('inspection_batches').ifExists().execute();
  await db.schema.dropTable('model_deployments').ifExists().execute();
}
