import type { Kysely, Selectable } from 'kysely';
import type { Database } from '@vigil/db';
import { errors, isRole, isUuid, type Principal, type Role } from '@vigil/contracts';
import type { AuditTrail } from '@vigil/service-kit';

/**
 * What API keys and SigV4 access key pairs have in common: both are named, role-carrying credential rows that
 * are listed by creation time, revoked once (revoking again is a no-op, not an event) and stamped on use.
 * Only how the secret is made, stored and checked differs, and that stays in each credential's own module.
 */
export type KeyTable = 'api_keys' | 'access_key_pairs';
export type KeyRow<T extends KeyTable> = Selectable<Database[T]>;

/** A revocation's outcome; a key already revoked keeps its first revocation (revokedNow false). */
export interface RevokeResult<Row> {
  readonly row: Row;
  readonly revokedNow: boolean;
}

/** The columns every key table has, as the schema declares them. */
type SharedColumns = Pick<Database['api_keys'], keyof Database['api_keys'] & keyof Database['access_key_pairs']>;

/**
 * Kysely cannot type one query over a union of table names, so the shared queries are typed against a single
 * stand-in table with only the shared columns; the real table name goes into the SQL. `selectAll` still
 * returns every column of the real table, so rows come back as that table's full row type.
 */
function sharedView(db: Kysely<Database>, table: KeyTable): { db: Kysely<{ key: SharedColumns }>; table: 'key' } {
  return { db: db as unknown as Kysely<{ key: SharedColumns }>, table: table as unknown as 'key' };
}

/** Every key row of `table`, oldest first. */
export async function listKeyRows<T extends KeyTable>(db: Kysely<Database>, table: T): Promise<KeyRow<T>[]> {
  const view = sharedView(db, table);
  const rows = await view.db.selectFrom(view.table).selectAll().orderBy('created_at').execute();
  return rows as KeyRow<T>[];
}

/** Revokes a live row at `at`; undefined when no row has that id. */
export async function revokeKeyRow<T extends KeyTable>(
  db: Kysely<Database>,
  table: T,
  id: string,
  at: Date,
): Promise<RevokeResult<KeyRow<T>> | undefined> {
  const view = sharedView(db, table);
  const revoked = await view.db
    .updateTable(view.table)
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  if (revoked) return { row: revoked as KeyRow<T>, revokedNow: true };
  const existing = await view.db.selectFrom(view.table).selectAll().where('id', '=', id).executeTakeFirst();
  return existing ? { row: existing as KeyRow<T>, revokedNow: false } : undefined;
}

/** Records that a row was just used. */
export async function touchKeyRow(db: Kysely<Database>, table: KeyTable, id: string, at: Date): Promise<void> {
  const view = sharedView(db, table);
  await view.db.updateTable(view.table).set({ last_used_at: at }).where('id', '=', id).execute();
}

/** The name to store for a new key, trimmed; BAD_INPUT for an empty or overlong name or an unknown role. */
export function validKeyName(input: { name: string; role: Role }): string {
  const name = input.name.trim();
  if (!name || name.length > 100) throw errors.badInput('a key needs a name of 1 to 100 characters');
  if (!isRole(input.role)) throw errors.badInput(`unknown role '${String(input.role)}'`);
  return name;
}

type CommonKeyRow = KeyRow<KeyTable>;

/** The summary fields every key kind shares; `kind` names the key in the error for a row with a bad role. */
export function keyLifecycle(
  row: CommonKeyRow,
  kind: string,
): { role: Role; createdAt: Date; createdBy: string; revokedAt: Date | null; lastUsedAt: Date | null } {
  if (!isRole(row.role)) throw errors.internal(`${kind} ${row.id} has an unknown role`);
  return {
    role: row.role,
    createdAt: row.created_at,
    createdBy: row.created_by,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

/**
 * The shared revoke flow: NOT_FOUND for a malformed or unknown id, `afterRevoke` (cache invalidation) on any
 * hit, and an audit event only when this call did the revoking.
 */
export async function revokeAudited<Row extends CommonKeyRow>(input: {
  id: string;
  actor: Principal;
  audit: AuditTrail;
  /** Audit entity type, also the audit action's prefix (`<entityType>.revoke`). */
  entityType: 'apiKey' | 'accessKeyPair';
  /** How NOT_FOUND names the key. */
  notFoundAs: string;
  revoke: (id: string) => Promise<RevokeResult<Row> | undefined>;
  afterRevoke: () => void;
}): Promise<Row> {
  const { id, actor } = input;
  const result = isUuid(id) ? await input.revoke(id) : undefined;
  if (!result) throw errors.notFound(input.notFoundAs, id);
  input.afterRevoke();
  // Revoking again changes nothing, so it is not an event.
  if (result.revokedNow) {
    await input.audit.record({
      actor,
      action: `${input.entityType}.revoke`,
      entityType: input.entityType,
      entityId: id,
      before: { revokedAt: null },
      after: { revokedAt: result.row.revoked_at },
    });
  }
  return result.row;
}

/** The principal a live key row authenticates as. */
export function keyPrincipal(summary: { id: string; name: string; role: Role }): Principal {
  return { id: summary.id, name: summary.name, role: summary.role };
}
