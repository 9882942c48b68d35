import type { Kysely } from 'kysely';
import type { Database, ModelDeploymentRow, ModelVersionRow } from '@vigil/db';
import type { Deployment, HostableVersion, HostingRepository } from '../domain/types';

function toDeployment(row: ModelDeploymentRow): Deployment {
  return {
    modelVersionId: row.model_version_id,
    minWorkers: row.min_workers,
    maxWorkers: row.max_workers,
    desiredState: row.desired_state as Deployment['desiredState'],
    actualState: row.actual_state as Deployment['actualState'],
    message: row.message,
    updatedAt: row.updated_at,
  };
}

/** The model_versions columns detection needs (also read by the detector's claim, repositories/inspections). */
export const HOSTABLE_VERSION_COLUMNS = [
  'id',
  'project_id',
  'version',
  'status',
  'artifact_key',
  'artifact_sha256',
  'image_width',
  'image_height',
] as const;

export function toHostableVersion(
  row: Pick<ModelVersionRow, (typeof HOSTABLE_VERSION_COLUMNS)[number]>,
): HostableVersion {
  return {
    id: row.id,
    projectId: row.project_id,
    version: row.version,
    status: row.status,
    artifactKey: row.artifact_key,
    artifactSha256: row.artifact_sha256,
    imageWidth: row.image_width,
    imageHeight: row.image_height,
  };
}

/**
 * model_deployments is this service's table. model_versions belongs to the training service: this repository
 * reads it and writes only its status, and only for the hosting transitions (README).
 */
export class KyselyHostingRepository implements HostingRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async findVersion(id: string): Promise<HostableVersion | null> {
    const row = await this.db
      .selectFrom('model_versions')
      .select(HOSTABLE_VERSION_COLUMNS)
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toHostableVersion(row) : null;
  }

  async transition(id: string, from: readonly string[], to: string, message: string | null = null): Promise<boolean> {
    const result = await this.db
      .updateTable('model_versions')
      .set({ status: to, status_message: message, updated_at: new Date() })
      .where('id', '=', id)
      .where('status', 'in', [...from])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async findDeployment(id: string): Promise<Deployment | null> {
    const row = await this.db
      .selectFrom('model_deployments')
      .selectAll()
      .where('model_version_id', '=', id)
      .executeTakeFirst();
    return row ? toDeployment(row) : null;
  }

  async saveDeployment(
    deployment: Omit<Deployment, 'updatedAt' | 'message'> & { message?: string | null },
  ): Promise<Deployment> {
    const values = {
      model_version_id: deployment.modelVersionId,
      min_workers: deployment.minWorkers,
      max_workers: deployment.maxWorkers,
      desired_state: deployment.desiredState,
      actual_state: deployment.actualState,
      message: deployment.message ?? null,
      updated_at: new Date(),
    };
    const row = await this.db
      .insertInto('model_deployments')
      .values(values)
      .onConflict((oc) =>
        oc.column('model_version_id').doUpdateSet({
          min_workers: values.min_workers,
          max_workers: values.max_workers,
          desired_state: values.desired_state,
          actual_state: values.actual_state,
          message: values.message,
          updated_at: values.updated_at,
        }),
      )
      .returningAll()
      .executeTakeFirstOrThrow();
    return toDeployment(row);
  }

  async datasetImages(datasetId: string, limit: number): Promise<{ projectId: string; imageIds: string[] } | null> {
    const dataset = await this.db
      .selectFrom('datasets')
      .select(['project_id'])
      .where('id', '=', datasetId)
      .executeTakeFirst();
    if (!dataset) return null;
    const rows = await this.db
      .selectFrom('dataset_entries')
      .select('image_id')
      .where('dataset_id', '=', datasetId)
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return { projectId: dataset.project_id, imageIds: rows.map((r) => r.image_id) };
  }
}
