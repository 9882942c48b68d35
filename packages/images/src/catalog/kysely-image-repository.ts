import { errors } from '@vigil/contracts';
import { sql, type Database, type ImageRow, type Kysely } from '@vigil/db';
import { isImageFormat } from '../formats';
import type { ImageRecord, ImageRepository, ListedImage, MetadataPatch, NewImage, RepositoryListQuery } from './types';

export function imageRowToRecord(row: ImageRow): ImageRecord {
  if (!isImageFormat(row.format)) throw errors.internal(`image ${row.id} has unknown format '${row.format}'`);
  return {
    id: row.id,
    format: row.format,
    width: row.width,
    height: row.height,
    channels: row.channels,
    bitDepth: row.bit_depth,
    byteSize: Number(row.byte_size),
    originalName: row.original_name,
    line: row.line,
    station: row.station,
    camera: row.camera,
    lot: row.lot,
    capturedAt: row.captured_at,
    tags: Array.isArray(row.tags) ? row.tags : [],
    createdAt: row.created_at,
    createdBy: row.created_by,
  };
}

export class KyselyImageRepository implements ImageRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insertIfAbsent(image: NewImage): Promise<ImageRecord | null> {
    const row = await this.db
      .insertInto('images')
      .values({
        id: image.id,
        format: image.format,
        width: image.width,
        height: image.height,
        channels: image.channels,
        bit_depth: image.bitDepth,
        byte_size: image.byteSize,
        original_name: image.originalName,
        line: image.line,
        station: image.station,
        camera: image.camera,
        lot: image.lot,
        captured_at: image.capturedAt,
        tags: JSON.stringify(image.tags),
        created_at: image.createdAt,
        created_by: image.createdBy,
      })
      // Concurrent ingests of the same bytes race here; the loser sees no row and merges instead.
      .onConflict((oc) => oc.column('id').doNothing())
      .returningAll()
      .executeTakeFirst();
    return row ? imageRowToRecord(row) : null;
  }

  async findById(id: string): Promise<ImageRecord | null> {
    const row = await this.db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? imageRowToRecord(row) : null;
  }

  async findByIds(ids: readonly string[]): Promise<ImageRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('images')
      .selectAll()
      .where('id', 'in', [...new Set(ids)])
      .execute();
    return rows.map(imageRowToRecord);
  }

  async mergeMetadata(id: string, patch: MetadataPatch): Promise<ImageRecord | null> {
    const tags = JSON.stringify(patch.tags ?? []);
    const row = await this.db
      .updateTable('images')
      .set({
        ...(patch.originalName !== undefined && {
          original_name: sql<string>`coalesce(original_name, ${patch.originalName})`,
        }),
        ...(patch.line !== undefined && { line: sql<string>`coalesce(line, ${patch.line})` }),
        ...(patch.station !== undefined && { station: sql<string>`coalesce(station, ${patch.station})` }),
        ...(patch.camera !== undefined && { camera: sql<string>`coalesce(camera, ${patch.camera})` }),
        ...(patch.lot !== undefined && { lot: sql<string>`coalesce(lot, ${patch.lot})` }),
        ...(patch.capturedAt !== undefined && {
          captured_at: sql<Date>`coalesce(captured_at, ${patch.capturedAt})`,
        }),
        // Appends, in the given order, the tags the row does not have yet; done in SQL so concurrent merges
        // cannot drop each other's tags.
        tags: sql<string>`images.tags || coalesce((
          select jsonb_agg(x.tag order by x.n)
          from jsonb_array_elements_text(cast(${tags} as jsonb)) with ordinality as x(tag, n)
          where not (images.tags @> jsonb_build_array(x.tag))
        ), '[]'::jsonb)`,
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row ? imageRowToRecord(row) : null;
  }

  async list(query: RepositoryListQuery): Promise<ListedImage[]> {
    const { filters, after, limit } = query;
    let select = this.db.selectFrom('images').selectAll();
    if (filters.line !== undefined) select = select.where('line', '=', filters.line);
    if (filters.station !== undefined) select = select.where('station', '=', filters.station);
    if (filters.camera !== undefined) select = select.where('camera', '=', filters.camera);
    if (filters.lot !== undefined) select = select.where('lot', '=', filters.lot);
    if (filters.tag !== undefined) select = select.where(sql<boolean>`tags @> ${JSON.stringify([filters.tag])}::jsonb`);
    if (filters.capturedFrom !== undefined) select = select.where('captured_at', '>=', filters.capturedFrom);
    if (filters.capturedTo !== undefined) select = select.where('captured_at', '<', filters.capturedTo);
    // created_at is timestamptz(3), so the ISO text of the Date is exact; it goes in as text so no driver
    // reinterprets it.
    if (after)
      select = select.where(
        sql<boolean>`(created_at, id) < (cast(cast(${after.createdAt} as text) as timestamptz), ${after.id})`,
      );
    const rows = await select.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map((row) => {
      const record = imageRowToRecord(row);
      return { record, position: { createdAt: record.createdAt.toISOString(), id: record.id } };
    });
  }
}
