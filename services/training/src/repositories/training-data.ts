import type { Kysely } from 'kysely';
import { isUuid, type DatasetType } from '@vigil/contracts';
import type { Database } from '@vigil/db';

/** A labelled entry as training reads it. */
export interface TrainingEntry {
  readonly id: string;
  readonly imageId: string;
  readonly label: 'normal' | 'anomaly' | 'unlabelled';
  readonly maskKey: string | null;
  readonly maskClasses: readonly { name: string; color: string }[];
  /** The image's size as the catalogue recorded it (EXIF orientation applied). */
  readonly width?: number;
  readonly height?: number;
}

export interface LabelCounts {
  readonly normal: number;
  readonly anomaly: number;
  readonly unlabelled: number;
}

/**
 * Read-only view of the projects and datasets the dataset service owns (same database). Training never
 * writes them: a split for testing happens in memory.
 */
export interface TrainingDataSource {
  findProject(ref: { id?: string | null; name?: string | null }): Promise<{ id: string; name: string } | undefined>;
  /** Null when the project has no dataset of this type. */
  labelCounts(projectId: string, type: DatasetType): Promise<LabelCounts | null>;
  entries(projectId: string, type: DatasetType): Promise<TrainingEntry[] | null>;
}

export class KyselyTrainingDataSource implements TrainingDataSource {
  constructor(private readonly db: Kysely<Database>) {}

  async findProject(ref: {
    id?: string | null;
    name?: string | null;
  }): Promise<{ id: string; name: string } | undefined> {
    let query = this.db.selectFrom('projects').select(['id', 'name']);
    if (ref.id) {
      if (!isUuid(ref.id)) return undefined;
      query = query.where('id', '=', ref.id);
    } else if (ref.name) query = query.where('name', '=', ref.name);
    else return undefined;
    return query.executeTakeFirst();
  }

  private async datasetId(projectId: string, type: DatasetType): Promise<string | null> {
    const row = await this.db
      .selectFrom('datasets')
      .select('id')
      .where('project_id', '=', projectId)
      .where('type', '=', type)
      .executeTakeFirst();
    return row?.id ?? null;
  }

  async labelCounts(projectId: string, type: DatasetType): Promise<LabelCounts | null> {
    const datasetId = await this.datasetId(projectId, type);
    if (!datasetId) return null;
    const rows = await this.db
      .selectFrom('dataset_entries')
      .select(['label', (eb) => eb.fn.countAll().as('n')])
      .where('dataset_id', '=', datasetId)
      .groupBy('label')
      .execute();
    const count = (label: string) => Number(rows.find((r) => r.label === label)?.n ?? 0);
    return { normal: count('normal'), anomaly: count('anomaly'), unlabelled: count('unlabelled') };
  }

  async entries(projectId: string, type: DatasetType): Promise<TrainingEntry[] | null> {
    const datasetId = await this.datasetId(projectId, type);
    if (!datasetId) return null;
    const rows = await this.db
      .selectFrom('dataset_entries')
      .innerJoin('images', 'images.id', 'dataset_entries.image_id')
      .select([
        'dataset_entries.id',
        'dataset_entries.image_id',
        'dataset_entries.label',
        'dataset_entries.mask_key',
        'dataset_entries.mask_classes',
        'images.width',
        'images.height',
      ])
      .where('dataset_entries.dataset_id', '=', datasetId)
      .orderBy('dataset_entries.id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      imageId: r.image_id,
      label: r.label as TrainingEntry['label'],
      maskKey: r.mask_key,
      maskClasses: r.mask_classes,
      width: r.width,
      height: r.height,
    }));
  }
}
