import type { Kysely } from 'kysely';
import type { AuditRow, Database } from '@vigil/db';
import { decodeCursor, encodeCursor, pageSize, type Page } from '@vigil/service-kit';

export interface AuditFilter {
  readonly entityType?: string | null;
  readonly entityId?: string | null;
  readonly actorId?: string | null;
  readonly action?: string | null;
  readonly since?: Date | null;
  readonly until?: Date | null;
}

export interface AuditEntry {
  readonly id: string;
  readonly at: Date;
  readonly actorId: string;
  readonly actorName: string;
  readonly action: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly requestId: string | null;
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    id: String(row.id),
    at: row.at,
    actorId: row.actor_id,
    actorName: row.actor_name,
    action: row.action,
    entityType: row.entity_type,
    entityId: row.entity_id,
    before: row.before,
    after: row.after,
    requestId: row.request_id,
  };
}

/** Reads the audit trail, newest first. There is deliberately no way to change it. */
export class AuditLogReader {
  constructor(private readonly db: Kysely<Database>) {}

  async list(filter: AuditFilter, first?: number | null, after?: string | null): Promise<Page<AuditEntry>> {
    const limit = pageSize(first);
    const cursor = decodeCursor(after);
    let query = this.db.selectFrom('audit_log').selectAll();
    if (filter.entityType) query = query.where('entity_type', '=', filter.entityType);
    if (filter.entityId) query = query.where('entity_id', '=', filter.entityId);
    if (filter.actorId) query = query.where('actor_id', '=', filter.actorId);
    if (filter.action) query = query.where('action', '=', filter.action);
    if (filter.since) query = query.where('at', '>=', filter.since);
    if (filter.until) query = query.where('at', '<', filter.until);
    if (cursor) {
      const id = /^\d+$/.test(cursor.id) ? cursor.id : '0';
      query = query.where((eb) =>
        eb.or([eb('at', '<', cursor.createdAt), eb.and([eb('at', '=', cursor.createdAt), eb('id', '<', id)])]),
      );
    }
    const rows = await query
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const pageRows = rows.slice(0, limit);
    const last = pageRows[pageRows.length - 1];
    return {
      nodes: pageRows.map(toEntry),
      pageInfo: {
        hasNextPage: rows.length > limit,
        endCursor: last ? encodeCursor({ createdAt: last.at, id: String(last.id) }) : null,
      },
    };
  }
}
