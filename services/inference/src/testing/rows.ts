import type { Database, Kysely } from '@vigil/db';

/** Rows the inference specs start from: a project, and a model version of it (hosted unless told otherwise). */
export async function insertProject(db: Kysely<Database>, name = 'p'): Promise<string> {
  const row = await db
    .insertInto('projects')
    .values({ name, created_by: 'seed' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function insertModelVersion(
  db: Kysely<Database>,
  projectId: string,
  values: {
    readonly version?: number;
    readonly status?: string;
    readonly artifactKey?: string;
    readonly digest?: string;
    readonly width?: number;
    readonly height?: number;
  } = {},
): Promise<string> {
  const row = await db
    .insertInto('model_versions')
    .values({
      project_id: projectId,
      version: values.version ?? 1,
      status: values.status ?? 'HOSTED',
      artifact_key: values.artifactKey ?? 'models/a',
      artifact_sha256: values.digest ?? 'a'.repeat(64),
      engine_config: '{}',
      created_by: 'seed',
      image_width: values.width ?? null,
      image_height: values.height ?? null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}
