import { DatasetType, EntryLabel, errors, stratifiedSample, type DefectClass } from '@vigil/contracts';
import type { DatasetEntryRow, DatasetRow } from '@vigil/db';
import { pageSize, toPage, type AuditTrail, type Page } from '@vigil/service-kit';
import type { DatasetRepository, DatasetStatsRow } from '../repositories/datasets';
import type { EntryFilter, EntryRepository, NewEntry } from '../repositories/entries';
import { decodeUuidCursor, type Actor, type ProjectService, type Transactor } from './projects';

export interface Dataset {
  readonly id: string;
  readonly projectId: string;
  readonly type: DatasetType;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface DatasetEntry {
  readonly id: string;
  readonly datasetId: string;
  readonly imageId: string;
  readonly label: EntryLabel;
  readonly mask: { readonly objectKey: string; readonly classes: readonly DefectClass[] } | null;
  readonly sourceRef: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type DatasetStats = DatasetStatsRow;

export function toDataset(row: DatasetRow): Dataset {
  return {
    id: row.id,
    projectId: row.project_id,
    type: row.type as DatasetType,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toEntry(row: DatasetEntryRow): DatasetEntry {
  return {
    id: row.id,
    datasetId: row.dataset_id,
    imageId: row.image_id,
    label: row.label as EntryLabel,
    mask: row.mask_key ? { objectKey: row.mask_key, classes: row.mask_classes } : null,
    sourceRef: row.source_ref,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Whether images exist, answered by whoever owns them (the image catalogue). */
export interface ImageLookup {
  missing(imageIds: readonly string[]): Promise<string[]>;
}

export const MAX_ENTRIES_PER_CALL = 10_000;

export class DatasetService {
  constructor(
    private readonly projects: ProjectService,
    private readonly datasets: DatasetRepository,
    private readonly entries: EntryRepository,
    private readonly images: ImageLookup,
    private readonly audit: AuditTrail,
    private readonly tx: Transactor,
  ) {}

  async get(id: string): Promise<Dataset> {
    const row = await this.datasets.findById(id);
    if (!row) throw errors.notFound('dataset', id);
    return toDataset(row);
  }

  async ofProject(projectId: string): Promise<Dataset[]> {
    return (await this.datasets.listByProject(projectId)).map(toDataset);
  }

  async find(projectId: string, type: DatasetType): Promise<Dataset | null> {
    const row = await this.datasets.findByProject(projectId, type);
    return row ? toDataset(row) : null;
  }

  async require(projectId: string, type: DatasetType): Promise<Dataset> {
    const dataset = await this.find(projectId, type);
    if (!dataset) throw errors.notFound('dataset', `${projectId}/${type}`);
    return dataset;
  }

  /** Creates the project's dataset of this type; CONFLICT when it exists (as Lookout's CreateDataset). */
  async create(projectId: string, type: DatasetType, actor: Actor): Promise<Dataset> {
    await this.projects.get(projectId);
    return this.tx.transaction(async (db) => {
      const { dataset, created } = await this.datasets.ensure(projectId, type, db);
      if (!created) throw errors.conflict(`the project already has a ${type} dataset`, { projectId, type });
      const result = toDataset(dataset);
      await this.audit.record(
        {
          actor: actor.principal,
          requestId: actor.requestId,
          action: 'dataset.create',
          entityType: 'dataset',
          entityId: dataset.id,
          after: result,
        },
        db,
      );
      return result;
    });
  }

  /** The project's dataset of this type, created on first use (imports call this). */
  async ensure(projectId: string, type: DatasetType, actor: Actor): Promise<Dataset> {
    return this.tx.transaction(async (db) => {
      const { dataset, created } = await this.datasets.ensure(projectId, type, db);
      const result = toDataset(dataset);
      if (created) {
        await this.audit.record(
          {
            actor: actor.principal,
            requestId: actor.requestId,
            action: 'dataset.create',
            entityType: 'dataset',
            entityId: dataset.id,
            after: result,
          },
          db,
        );
      }
      return result;
    });
  }

  async delete(id: string, actor: Actor): Promise<Dataset> {
    const before = await this.get(id);
    const stats = await this.datasets.stats(id);
    return this.tx.transaction(async (db) => {
      if (!(await this.datasets.delete(id, db))) throw errors.notFound('dataset', id);
      await this.audit.record(
        {
          actor: actor.principal,
          requestId: actor.requestId,
          action: 'dataset.delete',
          entityType: 'dataset',
          entityId: id,
          before: { ...before, stats },
        },
        db,
      );
      return before;
    });
  }

  stats(datasetId: string): Promise<DatasetStats> {
    return this.datasets.stats(datasetId);
  }

  async listEntries(
    datasetId: string,
    filter: EntryFilter,
    first?: number | null,
    after?: string | null,
  ): Promise<Page<DatasetEntry>> {
    const limit = pageSize(first);
    const rows = await this.entries.list(datasetId, filter, limit, decodeUuidCursor(after));
    return toPage(rows, limit, toEntry);
  }

  async allEntries(datasetId: string): Promise<DatasetEntry[]> {
    return (await this.entries.listAll(datasetId)).map(toEntry);
  }

  async getEntry(id: string): Promise<DatasetEntry> {
    const row = await this.entries.findById(id);
    if (!row) throw errors.notFound('dataset entry', id);
    return toEntry(row);
  }

  /**
   * Adds (or updates, for an image already present) entries, in one transaction with their audit rows.
   * Every image must already be in the catalogue.
   */
  async addEntries(
    datasetId: string,
    entries: readonly NewEntry[],
    actor: Actor,
    options: { unbounded?: boolean } = {},
  ): Promise<{ created: number; updated: number; entries: DatasetEntry[] }> {
    if (entries.length === 0) return { created: 0, updated: 0, entries: [] };
    if (!options.unbounded && entries.length > MAX_ENTRIES_PER_CALL)
      throw errors.badInput(`at most ${MAX_ENTRIES_PER_CALL} entries per call`, { given: entries.length });
    await this.get(datasetId);
    const missing = await this.images.missing([...new Set(entries.map((e) => e.imageId))]);
    if (missing.length > 0) throw errors.notFound('image', missing.slice(0, 10).join(', '));
    return this.tx.transaction(async (db) => {
      const result = await this.entries.upsert(datasetId, entries, db);
      await this.datasets.touch(datasetId, db);
      await this.audit.record(
        {
          actor: actor.principal,
          requestId: actor.requestId,
          action: 'dataset.entries.upsert',
          entityType: 'dataset',
          entityId: datasetId,
          after: {
            created: result.created,
            updated: result.updated,
            entries: result.rows.map((r) => ({ id: r.id, imageId: r.image_id, label: r.label, maskKey: r.mask_key })),
          },
        },
        db,
      );
      return { created: result.created, updated: result.updated, entries: result.rows.map(toEntry) };
    });
  }

  async relabel(entryIds: readonly string[], label: EntryLabel, actor: Actor): Promise<DatasetEntry[]> {
    if (entryIds.length === 0) return [];
    if (entryIds.length > MAX_ENTRIES_PER_CALL)
      throw errors.badInput(`at most ${MAX_ENTRIES_PER_CALL} entries per call`);
    return this.tx.transaction(async (db) => {
      const before = await this.entries.findByIds(entryIds, db);
      const found = new Set(before.map((r) => r.id));
      const unknown = entryIds.find((id) => !found.has(id));
      if (unknown) throw errors.notFound('dataset entry', unknown);
      const after = await this.entries.relabel(entryIds, label, db);
      for (const row of before) {
        await this.audit.record(
          {
            actor: actor.principal,
            requestId: actor.requestId,
            action: 'dataset.entry.relabel',
            entityType: 'datasetEntry',
            entityId: row.id,
            before: { label: row.label },
            after: { label },
          },
          db,
        );
      }
      return after.map(toEntry);
    });
  }

  async removeEntries(entryIds: readonly string[], actor: Actor): Promise<number> {
    if (entryIds.length === 0) return 0;
    return this.tx.transaction(async (db) => {
      const before = await this.entries.findByIds(entryIds, db);
      const found = new Set(before.map((r) => r.id));
      const unknown = entryIds.find((id) => !found.has(id));
      if (unknown) throw errors.notFound('dataset entry', unknown);
      const removed = await this.entries.delete(entryIds, db);
      for (const row of before) {
        await this.audit.record(
          {
            actor: actor.principal,
            requestId: actor.requestId,
            action: 'dataset.entry.remove',
            entityType: 'datasetEntry',
            entityId: row.id,
            before: toEntry(row),
          },
          db,
        );
      }
      return removed;
    });
  }

  /**
   * Splits a project's train dataset into train and test like Lookout does for single-dataset projects:
   * a seeded, label-stratified draw moves `testFraction` of each label to the test dataset (at least one
   * of each label that has two or more entries). The test dataset must be empty.
   */
  async split(
    projectId: string,
    options: { testFraction: number; seed: number },
    actor: Actor,
  ): Promise<{ train: DatasetStats; test: DatasetStats; moved: number }> {
    if (!(options.testFraction > 0 && options.testFraction < 1))
      throw errors.badInput('testFraction must be between 0 and 1 (exclusive)');
    await this.projects.get(projectId);
    const train = await this.require(projectId, DatasetType.Train);
    const existingTest = await this.find(projectId, DatasetType.Test);
    if (existingTest && (await this.datasets.stats(existingTest.id)).total > 0) {
      throw errors.conflict('the project already has a non-empty test dataset; delete it first to split again', {
        projectId,
      });
    }
    const entries = await this.entries.listAll(train.id);
    const chosen = stratifiedSample(entries, options.testFraction, options.seed);
    if (chosen.length === 0) throw errors.badInput('the train dataset has too few entries to split');
    const test = await this.ensure(projectId, DatasetType.Test, actor);
    await this.tx.transaction(async (db) => {
      await this.entries.moveTo(
        chosen.map((e) => e.id),
        test.id,
        db,
      );
      await this.datasets.touch(train.id, db);
      await this.datasets.touch(test.id, db);
      await this.audit.record(
        {
          actor: actor.principal,
          requestId: actor.requestId,
          action: 'dataset.split',
          entityType: 'project',
          entityId: projectId,
          after: {
            from: train.id,
            to: test.id,
            moved: chosen.map((e) => e.id),
            testFraction: options.testFraction,
            seed: options.seed,
          },
        },
        db,
      );
    });
    return {
      train: await this.datasets.stats(train.id),
      test: await this.datasets.stats(test.id),
      moved: chosen.length,
    };
  }
}

export { stratifiedSample };
export { EntryLabel };
