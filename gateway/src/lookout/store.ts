import type { Kysely } from 'kysely';
import type { Database } from '@vigil/db';

export interface StoredResponse {
  readonly fingerprint: string;
  readonly status: number;
  readonly body: unknown;
}

export interface DatasetJobRef {
  readonly jobId: string;
  readonly kind: 'create' | 'update';
}

export interface ModelOutput {
  readonly bucket: string;
  readonly prefix: string;
  readonly manifestKey: string | null;
  readonly resultKey: string | null;
}

/** The REST layer's own state: tags, client tokens, dataset import jobs, model output locations. */
export interface LookoutStore {
  tags(arn: string): Promise<Record<string, string>>;
  putTags(arn: string, tags: Record<string, string>): Promise<void>;
  removeTags(arn: string, keys: readonly string[]): Promise<void>;
  /** Removes the tags of a resource and of everything under it (a project's models). */
  dropTags(arnPrefix: string): Promise<void>;
  findResponse(principalId: string, operation: string, token: string): Promise<StoredResponse | undefined>;
  /** Keeps the first answer when two retries race. */
  saveResponse(principalId: string, operation: string, token: string, response: StoredResponse): Promise<void>;
  recordDatasetJob(projectId: string, datasetType: 'train' | 'test', job: DatasetJobRef): Promise<void>;
  latestDatasetJob(projectId: string, datasetType: 'train' | 'test'): Promise<DatasetJobRef | undefined>;
  forgetDatasetJobs(projectId: string, datasetType: 'train' | 'test'): Promise<void>;
  saveModelOutput(modelVersionId: string, output: { bucket: string; prefix: string }): Promise<void>;
  modelOutput(modelVersionId: string): Promise<ModelOutput | undefined>;
  markModelOutputWritten(modelVersionId: string, keys: { manifestKey: string; resultKey: string }): Promise<void>;
}

/** How long a client token's answer is replayed (AWS keeps them for hours; a day covers any retry loop). */
export const CLIENT_TOKEN_RETENTION_MS = 24 * 60 * 60 * 1000;

export class KyselyLookoutStore implements LookoutStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number = Date.now,
  ) {}

  async tags(arn: string): Promise<Record<string, string>> {
    const rows = await this.db
      .selectFrom('lookout_tags')
      .select(['tag_key', 'tag_value'])
      .where('resource_arn', '=', arn)
      .orderBy('tag_key')
      .execute();
    return Object.fromEntries(rows.map((r) => [r.tag_key, r.tag_value]));
  }
  async putTags(arn: string, tags: Record<string, string>): Promise<void> {
    const entries = Object.entries(tags);
    if (entries.length === 0) return;
    await this.db
      .insertInto('lookout_tags')
      .values(entries.map(([key, value]) => ({ resource_arn: arn, tag_key: key, tag_value: value })))
      .onConflict((oc) =>
        oc.columns(['resource_arn', 'tag_key']).doUpdateSet((eb) => ({ tag_value: eb.ref('excluded.tag_value') })),
      )
      .execute();
  }
  async removeTags(arn: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.deleteFrom('lookout_tags').where('resource_arn', '=', arn).where('tag_key', 'in', keys).execute();
  }
  async dropTags(arnPrefix: string): Promise<void> {
    await this.db
      .deleteFrom('lookout_tags')
      .where('resource_arn', 'like', `${arnPrefix.replace(/[\\%_]/g, '\\$&')}%`)
      .execute();
  }
  async findResponse(principalId: string, operation: string, token: string): Promise<StoredResponse | undefined> {
    const row = await this.db
      .selectFrom('lookout_client_tokens')
      .select(['fingerprint', 'status', 'response'])
      .where('principal_id', '=', principalId)
      .where('operation', '=', operation)
      .where('token', '=', token)
      .where('created_at', '>', new Date(this.now() - CLIENT_TOKEN_RETENTION_MS))
      .executeTakeFirst();
    return row ? { fingerprint: row.fingerprint, status: row.status, body: row.response } : undefined;
  }
  async saveResponse(principalId: string, operation: string, token: string, response: StoredResponse): Promise<void> {
    // Expired answers go as new ones come (the SDK sends a token with every mutating call).
    await this.db
      .deleteFrom('lookout_client_tokens')
      .where('created_at', '<', new Date(this.now() - CLIENT_TOKEN_RETENTION_MS))
      .execute();
    await this.db
      .insertInto('lookout_client_tokens')
      .values({
        principal_id: principalId,
        operation,
        token,
        fingerprint: response.fingerprint,
        status: response.status,
        response: JSON.stringify(response.body),
      })
      .onConflict((oc) =>
        oc
          .columns(['principal_id', 'operation', 'token'])
          .doUpdateSet({
            fingerprint: response.fingerprint,
            status: response.status,
            response: JSON.stringify(response.body),
            created_at: new Date(this.now()),
          })
          .where('lookout_client_tokens.created_at', '<', new Date(this.now() - CLIENT_TOKEN_RETENTION_MS)),
      )
      .execute();
  }
  async recordDatasetJob(projectId: string, datasetType: 'train' | 'test', job: DatasetJobRef): Promise<void> {
    await this.db
      .insertInto('lookout_dataset_jobs')
      .values({ project_id: projectId, dataset_type: datasetType, job_id: job.jobId, kind: job.kind })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
  async latestDatasetJob(projectId: string, datasetType: 'train' | 'test'): Promise<DatasetJobRef | undefined> {
    const row = await this.db
      .selectFrom('lookout_dataset_jobs')
      .select(['job_id', 'kind'])
      .where('project_id', '=', projectId)
      .where('dataset_type', '=', datasetType)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { jobId: row.job_id, kind: row.kind === 'update' ? 'update' : 'create' } : undefined;
  }
  async forgetDatasetJobs(projectId: string, datasetType: 'train' | 'test'): Promise<void> {
    await this.db
      .deleteFrom('lookout_dataset_jobs')
      .where('project_id', '=', projectId)
      .where('dataset_type', '=', datasetType)
      .execute();
  }
  async saveModelOutput(modelVersionId: string, output: { bucket: string; prefix: string }): Promise<void> {
    await this.db
      .insertInto('lookout_model_outputs')
      .values({ model_version_id: modelVersionId, bucket: output.bucket, prefix: output.prefix })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
  async modelOutput(modelVersionId: string): Promise<ModelOutput | undefined> {
    const row = await this.db
      .selectFrom('lookout_model_outputs')
      .selectAll()
      .where('model_version_id', '=', modelVersionId)
      .executeTakeFirst();
    return row
      ? { bucket: row.bucket, prefix: row.prefix, manifestKey: row.manifest_key, resultKey: row.result_key }
      : undefined;
  }
  async markModelOutputWritten(
    modelVersionId: string,
    keys: { manifestKey: string; resultKey: string },
  ): Promise<void> {
    await this.db
      .updateTable('lookout_model_outputs')
      .set({ manifest_key: keys.manifestKey, result_key: keys.resultKey, written_at: new Date() })
      .where('model_version_id', '=', modelVersionId)
      .execute();
  }
}
