import { z } from 'zod';
import { CaptureMetadataSchema, errors, type CaptureMetadata, type Principal } from '@vigil/contracts';
import { sha256Hex, type ObjectStore } from '@vigil/storage';
import { IMAGE_CONTENT_TYPES, type ImageFormat } from '../formats';
import { assertByteLimit, resolveLimits, type ImageLimits } from '../limits';
import { imageObjectKey, isSha256Hex } from '../object-key';
import { probeImage } from '../probe';
import { asBuffer } from '../source';
import { decodeCursor, encodeCursor } from './cursor';
import type { ImageFilters, ImageRecord, ImageRepository, MetadataPatch } from './types';

export interface ImageCatalogDeps {
  readonly images: ImageRepository;
  readonly store: ObjectStore;
  readonly limits?: Partial<ImageLimits>;
  /** Source of created_at; injectable so tests order records deterministically. */
  readonly now?: () => Date;
}

export interface IngestInput {
  readonly bytes: Uint8Array;
  readonly originalName?: string | null;
  readonly metadata?: CaptureMetadata;
  readonly actor: Principal;
}

export interface IngestResult {
  readonly image: ImageRecord;
  /** True when the same bytes were already catalogued; empty metadata fields were filled, tags unioned. */
  readonly deduplicated: boolean;
}

export interface ImageListInput {
  readonly filters?: ImageFilters;
  /** Page size, 1–500; default 50. */
  readonly first?: number;
  /** `endCursor` of the previous page. */
  readonly after?: string | null;
}

export interface ImagePage {
  readonly items: ImageRecord[];
  readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;
const MAX_ORIGINAL_NAME = 1024;

const FiltersSchema = z
  .object({
    line: z.string().optional(),
    station: z.string().optional(),
    camera: z.string().optional(),
    lot: z.string().optional(),
    tag: z.string().optional(),
    capturedFrom: z.date().optional(),
    capturedTo: z.date().optional(),
  })
  .strict();

/** The one writer of the `images` table: validates, stores bytes content-addressed, records metadata. */
export class ImageCatalog {
  private readonly images: ImageRepository;
  private readonly store: ObjectStore;
  private readonly limits: ImageLimits;
  private readonly now: () => Date;

  constructor(deps: ImageCatalogDeps) {
    this.images = deps.images;
    this.store = deps.store;
    this.limits = resolveLimits(deps.limits);
    this.now = deps.now ?? (() => new Date());
  }

  /**
   * Validates and stores an image. Nothing is stored when validation fails. Identical bytes map to the
   * existing record (deduplicated: true), which gains any metadata it lacked.
   */
  async ingest(input: IngestInput): Promise<IngestResult> {
    const metadata = parseMetadata(input.metadata);
    const originalName = parseOriginalName(input.originalName);
    const bytes = asBuffer(input.bytes);
    assertByteLimit(bytes.length, this.limits);
    const id = sha256Hex(bytes);
    const patch = toPatch(originalName, metadata);

    const existing = await this.images.findById(id);
    if (existing) {
      // Re-putting repairs a store that lost the object; a present object is left alone.
      await this.storeBytes(id, bytes, existing.format);
      return { image: await this.merge(existing, patch), deduplicated: true };
    }

    const probe = await probeImage(bytes, this.limits);
    await this.storeBytes(id, bytes, probe.format);
    const inserted = await this.images.insertIfAbsent({
      id,
      format: probe.format,
      width: probe.orientedWidth,
      height: probe.orientedHeight,
      channels: probe.channels,
      bitDepth: probe.bitDepth,
      byteSize: bytes.length,
      originalName: originalName ?? null,
      line: metadata.line ?? null,
      station: metadata.station ?? null,
      camera: metadata.camera ?? null,
      lot: metadata.lot ?? null,
      capturedAt: metadata.capturedAt ?? null,
      tags: patch.tags ?? [],
      createdAt: this.now(),
      createdBy: input.actor.id,
    });
    if (inserted) return { image: inserted, deduplicated: false };

    // Another ingest of the same bytes won the insert between our lookup and now.
    const winner = await this.images.findById(id);
    if (!winner) throw errors.internal(`image ${id} was neither inserted nor found`);
    return { image: await this.merge(winner, patch), deduplicated: true };
  }

  /** The record, or NOT_FOUND. */
  async get(id: string): Promise<ImageRecord> {
    const record = isSha256Hex(id) ? await this.images.findById(id) : null;
    if (!record) throw errors.notFound('image', id);
    return record;
  }

  /** Records aligned with `ids` (null where none exists), for batching loaders. */
  async getMany(ids: readonly string[]): Promise<Array<ImageRecord | null>> {
    const valid = [...new Set(ids.filter(isSha256Hex))];
    const records = await this.images.findByIds(valid);
    const byId = new Map(records.map((record) => [record.id, record]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** Newest first, keyset-paginated. */
  async list(input: ImageListInput = {}): Promise<ImagePage> {
    const first = input.first ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE)
      throw errors.badInput(`first must be an integer from 1 to ${MAX_PAGE_SIZE}`, { first });
    const parsedFilters = FiltersSchema.safeParse(input.filters ?? {});
    if (!parsedFilters.success) throw errors.badInput('invalid image filters', { issues: parsedFilters.error.issues });
    const after = input.after ? decodeCursor(input.after) : null;
    const rows = await this.images.list({ filters: parsedFilters.data, limit: first + 1, after });
    const page = rows.slice(0, first);
    const last = page.at(-1);
    return {
      items: page.map((row) => row.record),
      pageInfo: { hasNextPage: rows.length > first, endCursor: last ? encodeCursor(last.position) : null },
    };
  }

  /** The stored bytes, checked against their digest. */
  async readBytes(id: string): Promise<Buffer> {
    const record = await this.get(id);
    const bytes = await this.store.getBuffer(imageObjectKey(id), record.byteSize);
    if (sha256Hex(bytes) !== id) throw errors.internal(`stored bytes of image ${id} do not match their digest`);
    return bytes;
  }

  private async storeBytes(id: string, bytes: Buffer, format: ImageFormat): Promise<void> {
    // putContentAddressed would hash the bytes a second time; same policy: a size mismatch is a damaged object.
    const key = imageObjectKey(id);
    const present = await this.store.head(key);
    if (present && present.size === bytes.length) return;
    await this.store.put(key, bytes, { contentType: IMAGE_CONTENT_TYPES[format], size: bytes.length });
  }

  private async merge(existing: ImageRecord, patch: MetadataPatch): Promise<ImageRecord> {
    const needed = missingFrom(existing, patch);
    if (!needed) return existing;
    const merged = await this.images.mergeMetadata(existing.id, needed);
    if (!merged) throw errors.internal(`image ${existing.id} disappeared during a metadata merge`);
    return merged;
  }
}

function parseMetadata(metadata: CaptureMetadata | undefined): CaptureMetadata {
  if (metadata === undefined) return {};
  const result = CaptureMetadataSchema.safeParse(metadata);
  if (!result.success)
    throw errors.badInput('invalid capture metadata', {
      issues: result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    });
  return result.data;
}

function parseOriginalName(name: string | null | undefined): string | undefined {
  if (name === null || name === undefined) return undefined;
  const trimmed = name.trim();
  if (trimmed === '') return undefined;
  if (trimmed.length > MAX_ORIGINAL_NAME)
    throw errors.badInput(`originalName is longer than ${MAX_ORIGINAL_NAME} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw errors.badInput('originalName contains control characters');
  return trimmed;
}

function uniqueInOrder(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function toPatch(originalName: string | undefined, metadata: CaptureMetadata): MetadataPatch {
  return {
    ...(originalName !== undefined && { originalName }),
    ...(metadata.line !== undefined && { line: metadata.line }),
    ...(metadata.station !== undefined && { station: metadata.station }),
    ...(metadata.camera !== undefined && { camera: metadata.camera }),
    ...(metadata.lot !== undefined && { lot: metadata.lot }),
    ...(metadata.capturedAt !== undefined && { capturedAt: metadata.capturedAt }),
    ...(metadata.tags !== undefined && { tags: uniqueInOrder(metadata.tags) }),
  };
}

/** The part of the patch that would change the record, or null when nothing would. */
function missingFrom(record: ImageRecord, patch: MetadataPatch): MetadataPatch | null {
  const tags = (patch.tags ?? []).filter((tag) => !record.tags.includes(tag));
  const needed: MetadataPatch = {
    ...(patch.originalName !== undefined && record.originalName === null && { originalName: patch.originalName }),
    ...(patch.line !== undefined && record.line === null && { line: patch.line }),
    ...(patch.station !== undefined && record.station === null && { station: patch.station }),
    ...(patch.camera !== undefined && record.camera === null && { camera: patch.camera }),
    ...(patch.lot !== undefined && record.lot === null && { lot: patch.lot }),
    ...(patch.capturedAt !== undefined && record.capturedAt === null && { capturedAt: patch.capturedAt }),
    ...(tags.length > 0 && { tags }),
  };
  return Object.keys(needed).length > 0 ? needed : null;
}
