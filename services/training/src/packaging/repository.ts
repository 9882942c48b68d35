import type { Kysely } from 'kysely';
import { keysetPage, type Database, type ModelPackagingJobRow, type PackagedFile } from '@vigil/db';
import type { Cursor } from '@vigil/service-kit';

export type PackagingStatus = 'CREATED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface NewPackagingJob {
  readonly projectId: string;
  readonly modelVersionId: string;
  readonly modelVersion: number;
  readonly name: string;
  readonly description: string | null;
  readonly outputBucket: string;
  readonly outputPrefix: string;
  readonly componentName: string;
  readonly componentVersion: string;
  readonly configuration: unknown;
  readonly createdBy: string;
}

export interface PackagingJobRepository {
  /** Undefined when the project already has a job of this name. */
  insert(job: NewPackagingJob): Promise<ModelPackagingJobRow | undefined>;
  findById(id: string): Promise<ModelPackagingJobRow | undefined>;
  findByName(projectId: string, name: string): Promise<ModelPackagingJobRow | undefined>;
  /** Oldest first, `limit + 1` rows after the cursor. */
  list(projectId: string, after: Cursor | null, limit: number): Promise<ModelPackagingJobRow[]>;
  update(
    id: string,
    patch: { status?: PackagingStatus; statusMessage?: string | null; files?: PackagedFile[]; jobId?: string },
  ): Promise<ModelPackagingJobRow | undefined>;
}

export class KyselyPackagingJobRepository implements PackagingJobRepository {
  constructor(private readonly db: Kysely<Database>) {}

  insert(job: NewPackagingJob): Promise<ModelPackagingJobRow | undefined> {
    return this.db
      .insertInto('model_packaging_jobs')
      .values({
        project_id: job.projectId,
        model_version_id: job.modelVersionId,
        model_version: job.modelVersion,
        name: job.name,
        description: job.description,
        status: 'CREATED',
        output_bucket: job.outputBucket,
        output_prefix: job.outputPrefix,
        component_name: job.componentName,
        component_version: job.componentVersion,
        configuration: job.configuration === undefined ? null : JSON.stringify(job.configuration),
        created_by: job.createdBy,
      })
      .onConflict((oc) => oc.columns(['project_id', 'name']).doNothing())
      .returningAll()
      .executeTakeFirst();
  }
  findById(id: string): Promise<ModelPackagingJobRow | undefined> {
    return this.db.selectFrom('model_packaging_jobs').selectAll().where('id', '=', id).executeTakeFirst();
  }
  findByName(projectId: string, name: string): Promise<ModelPackagingJobRow | undefined> {
    return this.db
      .selectFrom('model_packaging_jobs')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('name', '=', name)
      .executeTakeFirst();
  }
  list(projectId: string, after: Cursor | null, limit: number): Promise<ModelPackagingJobRow[]> {
    const query = this.db.selectFrom('model_packaging_jobs').selectAll().where('project_id', '=', projectId);
    return keysetPage(query, after, limit).execute();
  }
  update(
    id: string,
    patch: { status?: PackagingStatus; statusMessage?: string | null; files?: PackagedFile[]; jobId?: string },
  ): Promise<ModelPackagingJobRow | undefined> {
    return this.db
      .updateTable('model_packaging_jobs')
      .set({
        updated_at: new Date(),
        ...(patch.status ? { status: patch.status } : {}),
        ...(patch.statusMessage !== undefined ? { status_message: patch.statusMessage } : {}),
        ...(patch.files ? { files: JSON.stringify(patch.files) } : {}),
        ...(patch.jobId ? { job_id: patch.jobId } : {}),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }
}
