import type { Kysely } from 'kysely';
import { isUuid } from '@vigil/contracts';
import type { Database, ModelVersionRow, ModelVersionUpdate } from '@vigil/db';
import type { ModelStatus } from '../domain/statuses';

export interface NewModelVersion {
  readonly projectId: string;
  readonly description: string | null;
  readonly idempotencyKey: string | null;
  readonly engineConfig: unknown;
  readonly createdBy: string;
}

export type ModelVersionPatch = Omit<ModelVersionUpdate, 'id' | 'project_id' | 'version' | 'status' | 'created_at'>;

export interface ModelVersionRepository {
  /** Inserts the project's next version (numbers are never reused); undefined when the idempotency key is taken. */
  insertNext(input: NewModelVersion, db?: Kysely<Database>): Promise<ModelVersionRow | undefined>;
  findById(id: string, db?: Kysely<Database>): Promise<ModelVersionRow | undefined>;
  findByIdempotencyKey(key: string): Promise<ModelVersionRow | undefined>;
  findByVersion(projectId: string, version: number): Promise<ModelVersionRow | undefined>;
  listByProject(projectId: string): Promise<ModelVersionRow[]>;
  /** Sets fields without changing the status. */
  patch(id: string, patch: ModelVersionPatch, db?: Kysely<Database>): Promise<ModelVersionRow | undefined>;
  /** Compare-and-set: moves the version to `to` only when its status is one of `from`. */
  transition(
    id: string,
    from: readonly ModelStatus[],
    to: ModelStatus,
    patch?: ModelVersionPatch,
    db?: Kysely<Database>,
  ): Promise<ModelVersionRow | undefined>;
  delete(id: string, db?: Kysely<Database>): Promise<boolean>;
  /** How many versions (other than `exceptId`) keep this artifact object. */
  artifactUsers(artifactKey: string, exceptId: string): Promise<number>;
}

export class KyselyModelVersionRepository implements ModelVersionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insertNext(input: NewModelVersion, db = this.db): Promise<ModelVersionRow | undefined> {
    const counter = await db
      .insertInto('model_version_counters')
      .values({ project_id: input.projectId, last_version: 1 })
      .onConflict((oc) =>
        oc
          .column('project_id')
          .doUpdateSet((eb) => ({ last_version: eb('model_version_counters.last_version', '+', 1) })),
      )
      .returning('last_version')
      .executeTakeFirstOrThrow();
    return db
      .insertInto('model_versions')
      .values({
        project_id: input.projectId,
        version: counter.last_version,
        status: 'TRAINING',
        description: input.description,
        idempotency_key: input.idempotencyKey,
        engine_config: JSON.stringify(input.engineConfig),
        created_by: input.createdBy,
      })
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  async findById(id: string, db = this.db): Promise<ModelVersionRow | undefined> {
    if (!isUuid(id)) return undefined;
    return db.selectFrom('model_versions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByIdempotencyKey(key: string): Promise<ModelVersionRow | undefined> {
    return this.db.selectFrom('model_versions').selectAll().where('idempotency_key', '=', key).executeTakeFirst();
  }

  findByVersion(projectId: string, version: number): Promise<ModelVersionRow | undefined> {
    return this.db
      .selectFrom('model_versions')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('version', '=', version)
      .executeTakeFirst();
  }

  listByProject(projectId: string): Promise<ModelVersionRow[]> {
    return this.db
      .selectFrom('model_versions')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('version', 'desc')
      .execute();
  }

  async patch(id: string, patch: ModelVersionPatch, db = this.db): Promise<ModelVersionRow | undefined> {
    if (!isUuid(id)) return undefined;
    return db
      .updateTable('model_versions')
      .set({ ...patch, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  async transition(
    id: string,
    from: readonly ModelStatus[],
    to: ModelStatus,
    patch: ModelVersionPatch = {},
    db = this.db,
  ): Promise<ModelVersionRow | undefined> {
    if (!isUuid(id) || from.length === 0) return undefined;
    return db
      .updateTable('model_versions')
      .set({ ...patch, status: to, updated_at: new Date() })
      .where('id', '=', id)
      .where('status', 'in', [...from])
      .returningAll()
      .executeTakeFirst();
  }

  async delete(id: string, db = this.db): Promise<boolean> {
    if (!isUuid(id)) return false;
    const result = await db.deleteFrom('model_versions').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async artifactUsers(artifactKey: string, exceptId: string): Promise<number> {
    const row = await this.db
      .selectFrom('model_versions')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('artifact_key', '=', artifactKey)
      .where('id', '!=', exceptId)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}
