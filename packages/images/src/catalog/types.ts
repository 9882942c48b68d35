import type { ImageFormat } from '../formats';

/** One stored image: its identity is the sha256 of its bytes. */
export interface ImageRecord {
  /** sha256 of the bytes, lowercase hex. */
  readonly id: string;
  readonly format: ImageFormat;
  /** As displayed (EXIF orientation applied), which is how `decodeImage` returns it. */
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly bitDepth: number;
  readonly byteSize: number;
  readonly originalName: string | null;
  readonly line: string | null;
  readonly station: string | null;
  readonly camera: string | null;
  readonly lot: string | null;
  readonly capturedAt: Date | null;
  readonly tags: readonly string[];
  readonly createdAt: Date;
  /** Principal id of whoever first ingested it. */
  readonly createdBy: string;
}

export type NewImage = ImageRecord;

/** Values to fill where the stored record has none; tags are appended when not already present. */
export interface MetadataPatch {
  readonly originalName?: string;
  readonly line?: string;
  readonly station?: string;
  readonly camera?: string;
  readonly lot?: string;
  readonly capturedAt?: Date;
  readonly tags?: readonly string[];
}

export interface ImageFilters {
  readonly line?: string;
  readonly station?: string;
  readonly camera?: string;
  readonly lot?: string;
  /** Images carrying this tag. */
  readonly tag?: string;
  /** capturedAt >= capturedFrom */
  readonly capturedFrom?: Date;
  /** capturedAt < capturedTo */
  readonly capturedTo?: Date;
}

/** Where a listing stopped: the last row's created_at (ISO 8601, UTC) and id. */
export interface ListPosition {
  readonly createdAt: string;
  readonly id: string;
}

export interface RepositoryListQuery {
  readonly filters: ImageFilters;
  readonly limit: number;
  readonly after: ListPosition | null;
}

export interface ListedImage {
  readonly record: ImageRecord;
  readonly position: ListPosition;
}

/**
 * Storage of image records, newest first. Implementations: `KyselyImageRepository` (Postgres/PGlite) and
 * `InMemoryImageRepository` (tests).
 */
export interface ImageRepository {
  /** Inserts unless a record with the same id exists; returns the inserted record, or null when it existed. */
  insertIfAbsent(image: NewImage): Promise<ImageRecord | null>;
  findById(id: string): Promise<ImageRecord | null>;
  /** The records that exist, in no particular order. */
  findByIds(ids: readonly string[]): Promise<ImageRecord[]>;
  /** Atomically fills empty fields and appends new tags; returns the updated record, or null when absent. */
  mergeMetadata(id: string, patch: MetadataPatch): Promise<ImageRecord | null>;
  /** Records matching every filter, ordered by (createdAt, id) descending, strictly after `after`. */
  list(query: RepositoryListQuery): Promise<ListedImage[]>;
}
