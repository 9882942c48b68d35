import type {
  ImageFilters,
  ImageRecord,
  ImageRepository,
  ListedImage,
  MetadataPatch,
  NewImage,
  RepositoryListQuery,
} from '../catalog/types';

function matches(record: ImageRecord, filters: ImageFilters): boolean {
  if (filters.line !== undefined && record.line !== filters.line) return false;
  if (filters.station !== undefined && record.station !== filters.station) return false;
  if (filters.camera !== undefined && record.camera !== filters.camera) return false;
  if (filters.lot !== undefined && record.lot !== filters.lot) return false;
  if (filters.tag !== undefined && !record.tags.includes(filters.tag)) return false;
  if (filters.capturedFrom !== undefined && (!record.capturedAt || record.capturedAt < filters.capturedFrom))
    return false;
  if (filters.capturedTo !== undefined && (!record.capturedAt || record.capturedAt >= filters.capturedTo)) return false;
  return true;
}

/** Newest first, ties by id descending: the same order as the SQL repository. */
function compareDescending(a: ImageRecord, b: ImageRecord): number {
  const byTime = b.createdAt.getTime() - a.createdAt.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** An ImageRepository in a Map with the same semantics as KyselyImageRepository, for tests. */
export class InMemoryImageRepository implements ImageRepository {
  readonly records = new Map<string, ImageRecord>();

  async insertIfAbsent(image: NewImage): Promise<ImageRecord | null> {
    if (this.records.has(image.id)) return null;
    const record = { ...image, tags: [...image.tags] };
    this.records.set(image.id, record);
    return record;
  }

  async findById(id: string): Promise<ImageRecord | null> {
    return this.records.get(id) ?? null;
  }

  async findByIds(ids: readonly string[]): Promise<ImageRecord[]> {
    return [...new Set(ids)].flatMap((id) => this.records.get(id) ?? []);
  }

  async mergeMetadata(id: string, patch: MetadataPatch): Promise<ImageRecord | null> {
    const current = this.records.get(id);
    if (!current) return null;
    const merged: ImageRecord = {
      ...current,
      originalName: current.originalName ?? patch.originalName ?? null,
      line: current.line ?? patch.line ?? null,
      station: current.station ?? patch.station ?? null,
      camera: current.camera ?? patch.camera ?? null,
      lot: current.lot ?? patch.lot ?? null,
      capturedAt: current.capturedAt ?? patch.capturedAt ?? null,
      tags: [...current.tags, ...[...new Set(patch.tags ?? [])].filter((tag) => !current.tags.includes(tag))],
    };
    this.records.set(id, merged);
    return merged;
  }

  async list(query: RepositoryListQuery): Promise<ListedImage[]> {
    const { after } = query;
    const afterTime = after ? Date.parse(after.createdAt) : 0;
    return [...this.records.values()]
      .filter((record) => matches(record, query.filters))
      .filter((record) => {
        if (!after) return true;
        const time = record.createdAt.getTime();
        return time < afterTime || (time === afterTime && record.id < after.id);
      })
      .sort(compareDescending)
      .slice(0, query.limit)
      .map((record) => ({ record, position: { createdAt: record.createdAt.toISOString(), id: record.id } }));
  }
}
