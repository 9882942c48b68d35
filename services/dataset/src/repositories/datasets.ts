import type { Kysely } from 'kysely';
import { isUuid, type DatasetType } from '@vigil/contracts';
import type { Database, DatasetRow } from '@vigil/db';

export interface DatasetStatsRow {
  readonly total: number;
  readonly normal: number;
  readonly anomaly: number;
  readonly unlabelled: number;
  readonly withMask: number;
}

export interface DatasetRepository {
  findById(id: string): Promise<DatasetRow | undefined>;
  findByProject(projectId: string, type: DatasetType, db?: Kysely<Database>): Promise<DatasetRow | undefined>;
  listByProject(projectId: string): Promise<DatasetRow[]>;
  /** Returns the existing dataset when there is one (idempotent). */
  ensure(
    projectId: string,
    type: DatasetType,
    db?: Kysely<Database>,
  ): Promise<{ dataset: DatasetRow; created: boolean }>;
  delete(id: string, db?: Kysely<Database>): Promise<boolean>;
  stats(datasetId: string): Promise<DatasetStatsRow>;
  touch(id: string, db?: Kysely<Database>): Promise<void>;
}

export class KyselyDatasetRepository implements DatasetRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async findById(id: string): Promise<DatasetRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.db.selectFrom('datasets').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByProject(projectId: string, type: DatasetType, db = this.db): Promise<DatasetRow | undefined> {
    return db
      .selectFrom('datasets')
      .selectAll()
      .where('project_id', '=', projectId)
      .where('type', '=', type)
      .executeTakeFirst();
  }

  listByProject(projectId: string): Promise<DatasetRow[]> {
    return this.db
      .selectFrom('datasets')
      .selectAll()
      .where('project_id', '=', projectId)
      .orderBy('type', 'desc')
      .execute();
  }

  async ensure(projectId: string, type: DatasetType, db = this.db): Promise<{ dataset: DatasetRow; created: boolean }> {
    const inserted = await db
      .insertInto('datasets')
      .values({ project_id: projectId, type })
      .onConflict((oc) => oc.columns(['project_id', 'type']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted) return { dataset: inserted, created: true };
    const existing = await this.findByProject(projectId, type, db);
    if (!existing) throw new Error(`dataset ${projectId}/${type} vanished during ensure`);
    return { dataset: existing, created: false };
  }

  async delete(id: string, db = this.db): Promise<boolean> {
    if (!isUuid(id)) return false;
    const result = await db.deleteFrom('datasets').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async stats(datasetId: string): Promise<DatasetStatsRow> {
    const row = await this.db
      .selectFrom('dataset_entries')
      .where('dataset_id', '=', datasetId)
      .select((eb) => [
        eb.fn.countAll<number>().as('total'),
        eb.fn.count<number>('id').filterWhere('label', '=', 'normal').as('normal'),
        eb.fn.count<number>('id').filterWhere('label', '=', 'anomaly').as('anomaly'),
        eb.fn.count<number>('id').filterWhere('label', '=', 'unlabelled').as('unlabelled'),
        eb.fn.count<number>('mask_key').as('withMask'),
      ])
      .executeTakeFirstOrThrow();
    return {
      total: Number(row.total),
      normal: Number(row.normal),
      anomaly: Number(row.anomaly),
      unlabelled: Number(row.unlabelled),
      withMask: Number(row.withMask),
    };
  }

  async touch(id: string, db = this.db): Promise<void> {
    await db.updateTable('datasets').set({ updated_at: new Date() }).where('id', '=', id).execute();
  }
}
