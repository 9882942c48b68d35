import { type Kysely, sql } from 'kysely';

// Same precision as 0001: timestamps round-trip exactly through JS Dates.
const TIMESTAMP = sql`timestamptz(3)`;

/** The Lookout for Vision–compatible REST layer's own state (owned by the gateway's `lookout/`). */
export async function up(db: Kysely<unknown>): Promise<void> {
  // SigV4 access key pairs. The secret must be recoverable to recompute HMACs, so it is stored encrypted
  // (AES-256-GCM under a key derived from the gateway secret), never in clear and never hashed.
  await db.schema
    .createTable('access_key_pairs')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('access_key_id', 'text', (c) => c.notNull().unique())
    .addColumn('secret_ciphertext', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('viewer', 'operator', 'admin')`))
    .addColumn('created_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('revoked_at', TIMESTAMP)
    .addColumn('last_used_at', TIMESTAMP)
    .execute();

  await db.schema
    .createTable('lookout_tags')
    .addColumn('resource_arn', 'text', (c) => c.notNull())
    .addColumn('tag_key', 'text', (c) => c.notNull())
    .addColumn('tag_value', 'text', (c) => c.notNull())
    .addColumn('updated_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('lookout_tags_pk', ['resource_arn', 'tag_key'])
    .execute();

  // X-Amzn-Client-Token: the first answer to a (caller, operation, token), replayed for a retry.
  await db.schema
    .createTable('lookout_client_tokens')
    .addColumn('principal_id', 'text', (c) => c.notNull())
    .addColumn('operation', 'text', (c) => c.notNull())
    .addColumn('token', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('response', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('lookout_client_tokens_pk', ['principal_id', 'operation', 'token'])
    .execute();
  await db.schema
    .createIndex('lookout_client_tokens_created')
    .on('lookout_client_tokens')
    .column('created_at')
    .execute();

  // The import job behind a dataset's Lookout status (CreateDataset / UpdateDatasetEntries), latest first.
  await db.schema
    .createTable('lookout_dataset_jobs')
    .addColumn('project_id', 'uuid', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('dataset_type', 'text', (c) => c.notNull().check(sql`dataset_type in ('train', 'test')`))
    .addColumn('job_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('create', 'update')`))
    .addColumn('created_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('lookout_dataset_jobs_pk', ['project_id', 'dataset_type', 'job_id'])
    .execute();

  // CreateModel's OutputConfig, and where the evaluation was written once the version was trained.
  await db.schema
    .createTable('lookout_model_outputs')
    .addColumn('model_version_id', 'uuid', (c) => c.primaryKey().references('model_versions.id').onDelete('cascade'))
    .addColumn('bucket', 'text', (c) => c.notNull())
    .addColumn('prefix', 'text', (c) => c.notNull())
    .addColumn('manifest_key', 'text')
    .addColumn('result_key', 'text')
    .addColumn('written_at', TIMESTAMP)
    .execute();

  // Edge packages of trained versions (owned by the training service's packaging/).
  await db.schema
    .createTable('model_packaging_jobs')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('project_id', 'uuid', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    // No foreign key: a package (and its record) outlives a deleted version, as an inspection does.
    .addColumn('model_version_id', 'uuid', (c) => c.notNull())
    .addColumn('model_version', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('CREATED', 'RUNNING', 'SUCCEEDED', 'FAILED')`))
    .addColumn('status_message', 'text')
    .addColumn('output_bucket', 'text', (c) => c.notNull())
    .addColumn('output_prefix', 'text', (c) => c.notNull())
    .addColumn('component_name', 'text', (c) => c.notNull())
    .addColumn('component_version', 'text', (c) => c.notNull())
    .addColumn('configuration', 'jsonb')
    .addColumn('files', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('job_id', 'text')
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', TIMESTAMP, (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('model_packaging_jobs_name', ['project_id', 'name'])
    .execute();
  await db.schema
    .createIndex('model_packaging_jobs_project_created')
    .on('model_packaging_jobs')
    .columns(['project_id', 'created_at', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('model_packaging_jobs').execute();
  await db.schema.dropTable('lookout_model_outputs').execute();
  await db.schema.dropTable('lookout_dataset_jobs').execute();
  await db.schema.dropTable('lookout_client_tokens').execute();
  await db.schema.dropTable('lookout_tags').execute();
  await db.schema.dropTable('access_key_pairs').execute();
}
