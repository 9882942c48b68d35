import { sql, type Kysely } from 'kysely';
import { isUuid, type EntryLabel } from '@vigil/contracts';
import { keysetPage, type Database, type DatasetEntryRow, type DefectClassRow } from '@vigil/db';
import type { Cursor } from '@vigil/service-kit';

export interface NewEntry {
  readonly imageId: string;
  readonly label: EntryLabel;
  readonly maskKey: string | null;
  readonly maskClasses: readonly DefectClassRow[];
  readonly sourceRef: string | null;
}

export interface UpsertResult {
  readonly created: number;
  readonly updated: number;
  readonly rows: DatasetEntryRow[];
}

export interface EntryFilter {
  readonly label?: EntryLabel;
  readonly hasMask?: boolean;
}

export interface EntryRepository {
  /** Adds entries; an image already in the dataset is updated (label, mask, source) instead. */
  upsert(datasetId: string, entries: readonly NewEntry[], db?: Kysely<Database>): Promise<UpsertResult>;
  findById(id: string): Promise<DatasetEntryRow | undefined>;
  findByIds(ids: readonly string[], db?: Kysely<Database>): Promise<DatasetEntryRow[]>;
  list(datasetId: string, filter: EntryFilter, limit: number, after: Cursor | null): Promise<DatasetEntryRow[]>;
  listAll(datasetId: string): Promise<DatasetEntryRow[]>;
  relabel(ids: readonly string[], label: EntryLabel, db?: Kysely<Database>): Promise<DatasetEntryRow[]>;
  moveTo(ids: readonly string[], datasetId: string, db?: Kysely<Database>): Promise<number>;
  delete(ids: readonly string[], db?: Kysely<Database>): Promise<number>;
}

const UPSERT_CHUNK = 500;

export class KyselyEntryRepository implements EntryRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async upsert(datasetId: string, entries: readonly NewEntry[], db = this.db): Promise<UpsertResult> {
    // One row per image, the last given winning: Postgres refuses an upsert that touches a row twice.
    const unique = [...new Map(entries.map((e) => [e.imageId, e])).values()];
    const rows: DatasetEntryRow[] = [];
    let created = 0;
    for (let i = 0; i < unique.length; i += UPSERT_CHUNK) {
      const chunk = unique.slice(i, i + UPSERT_CHUNK);
      const result = await db
        .insertInto('dataset_entries')
        .values(
          chunk.map((e) => ({
            dataset_id: datasetId,
            image_id: e.imageId,
            label: e.label,
            mask_key: e.maskKey,
            mask_classes: JSON.stringify(e.maskClasses),
            source_ref: e.sourceRef,
          })),
        )
        .onConflict((oc) =>
          oc.columns(['dataset_id', 'image_id']).doUpdateSet((eb) => ({
            label: eb.ref('excluded.label'),
            mask_key: eb.ref('excluded.mask_key'),
            mask_classes: eb.ref('excluded.mask_classes'),
            source_ref: eb.ref('excluded.source_ref'),
            updated_at: new Date(),
          })),
        )
        // xmax = 0 only for freshly inserted rows: the standard way to tell insert from update in an upsert.
        .returningAll()
        .returning(sql<boolean>`(xmax = 0)`.as('inserted'))
        .execute();
      for (const row of result) {
        const { inserted, ...entry } = row;
        if (inserted) created += 1;
        rows.push(entry);
      }
    }
    return { created, updated: rows.length - created, rows };
  }

  async findById(id: string): Promise<DatasetEntryRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.db.selectFrom('dataset_entries').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async findByIds(ids: readonly string[], db = this.db): Promise<DatasetEntryRow[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    return db.selectFrom('dataset_entries').selectAll().where('id', 'in', valid).execute();
  }

  list(datasetId: string, filter: EntryFilter, limit: number, after: Cursor | null): Promise<DatasetEntryRow[]> {
    let query = this.db.selectFrom('dataset_entries').selectAll().where('dataset_id', '=', datasetId);
    if (filter.label) query = query.where('label', '=', filter.label);
    if (filter.hasMask !== undefined) query = query.where('mask_key', filter.hasMask ? 'is not' : 'is', null);
    return keysetPage(query, after, limit).execute();
  }

  listAll(datasetId: string): Promise<DatasetEntryRow[]> {
    return this.db
      .selectFrom('dataset_entries')
      .selectAll()
      .where('dataset_id', '=', datasetId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  async relabel(ids: readonly string[], label: EntryLabel, db = this.db): Promise<DatasetEntryRow[]> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return [];
    return db
      .updateTable('dataset_entries')
      .set({ label, updated_at: new Date() })
      .where('id', 'in', valid)
      .returningAll()
      .execute();
  }

  async moveTo(ids: readonly string[], datasetId: string, db = this.db): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await db
      .updateTable('dataset_entries')
      .set({ dataset_id: datasetId, updated_at: new Date() })
      .where('id', 'in', [...ids])
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async delete(ids: readonly string[], db = this.db): Promise<number> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return 0;
    const result = await db.deleteFrom('dataset_entries').where('id', 'in', valid).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
