import type { Kysely } from 'kysely';
import type { Database } from '@vigil/db';
import type { Principal } from '@vigil/contracts';

/** One change: who did what to which entity, with the values before and after. */
export interface AuditEvent {
  readonly actor: Principal;
  readonly action: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly requestId?: string;
}

/**
 * The append-only audit trail. `record` takes the transaction of the change it describes, so an audit row
 * exists exactly when the change committed.
 */
export interface AuditTrail {
  record(event: AuditEvent, db?: Kysely<Database>): Promise<void>;
}

function toJson(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

export class KyselyAuditTrail implements AuditTrail {
  constructor(private readonly db: Kysely<Database>) {}

  async record(event: AuditEvent, db: Kysely<Database> = this.db): Promise<void> {
    await db
      .insertInto('audit_log')
      .values({
        actor_id: event.actor.id,
        actor_name: event.actor.name,
        action: event.action,
        entity_type: event.entityType,
        entity_id: event.entityId,
        before: toJson(event.before),
        after: toJson(event.after),
        request_id: event.requestId ?? null,
      })
      .execute();
  }
}
