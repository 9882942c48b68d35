import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ApiKeyRow, Database } from '@vigil/db';
import { errors, type Principal, type Role } from '@vigil/contracts';
import type { AuditTrail } from '@vigil/service-kit';
import {
  keyLifecycle,
  keyPrincipal,
  listKeyRows,
  revokeAudited,
  revokeKeyRow,
  touchKeyRow,
  validKeyName,
  type RevokeResult,
} from './key-rows';

/**
 * API keys look like `vgl_<12-char id>_<secret>`. The id part is stored in clear (to find the row and to
 * show in listings); only a sha256 of the whole key is stored. Keys are 256-bit random, so a fast hash is
 * as strong as a slow one here.
 */
const KEY_PATTERN = /^vgl_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomAlphanumeric(length: number): string {
  // Rejection sampling keeps the distribution uniform.
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHANUMERIC[byte % 62];
    }
  }
  return out;
}

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export interface ApiKeySummary {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly role: Role;
  readonly createdAt: Date;
  readonly createdBy: string;
  readonly revokedAt: Date | null;
  readonly lastUsedAt: Date | null;
}

export interface CreatedApiKey {
  readonly summary: ApiKeySummary;
  /** The full key: shown once, never stored. */
  readonly key: string;
}

export interface ApiKeyRepository {
  insert(row: { name: string; prefix: string; secretHash: string; role: Role; createdBy: string }): Promise<ApiKeyRow>;
  findByPrefix(prefix: string): Promise<ApiKeyRow | undefined>;
  list(): Promise<ApiKeyRow[]>;
  count(): Promise<number>;
  /** Revokes a live key at `at`; a key already revoked keeps its first revocation (revokedNow false). */
  revoke(id: string, at: Date): Promise<RevokeResult<ApiKeyRow> | undefined>;
  touch(id: string, at: Date): Promise<void>;
}

export class KyselyApiKeyRepository implements ApiKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  insert(row: { name: string; prefix: string; secretHash: string; role: Role; createdBy: string }): Promise<ApiKeyRow> {
    return this.db
      .insertInto('api_keys')
      .values({
        name: row.name,
        prefix: row.prefix,
        secret_hash: row.secretHash,
        role: row.role,
        created_by: row.createdBy,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }
  findByPrefix(prefix: string): Promise<ApiKeyRow | undefined> {
    return this.db.selectFrom('api_keys').selectAll().where('prefix', '=', prefix).executeTakeFirst();
  }
  list(): Promise<ApiKeyRow[]> {
    return listKeyRows(this.db, 'api_keys');
  }
  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
  revoke(id: string, at: Date): Promise<RevokeResult<ApiKeyRow> | undefined> {
    return revokeKeyRow(this.db, 'api_keys', id, at);
  }
  touch(id: string, at: Date): Promise<void> {
    return touchKeyRow(this.db, 'api_keys', id, at);
  }
}

function summarise(row: ApiKeyRow): ApiKeySummary {
  return { id: row.id, name: row.name, prefix: row.prefix, ...keyLifecycle(row, 'api key') };
}

export class ApiKeyService {
  /** Successful lookups are cached briefly so each request does not hit the database. */
  private readonly cache = new Map<string, { principal: Principal; expires: number }>();

  constructor(
    private readonly keys: ApiKeyRepository,
    private readonly audit: AuditTrail,
    private readonly options: { cacheMs?: number; now?: () => number } = {},
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  async create(input: { name: string; role: Role; actor: Principal }): Promise<CreatedApiKey> {
    const name = validKeyName(input);
    const prefix = randomAlphanumeric(12);
    const key = `vgl_${prefix}_${randomBytes(32).toString('base64url')}`;
    const row = await this.keys.insert({
      name,
      prefix,
      secretHash: hashKey(key),
      role: input.role,
      createdBy: input.actor.name,
    });
    const summary = summarise(row);
    await this.audit.record({
      actor: input.actor,
      action: 'apiKey.create',
      entityType: 'apiKey',
      entityId: row.id,
      after: { name, prefix, role: input.role },
    });
    return { summary, key };
  }

  async list(): Promise<ApiKeySummary[]> {
    return (await this.keys.list()).map(summarise);
  }

  async hasAny(): Promise<boolean> {
    return (await this.keys.count()) > 0;
  }

  async revoke(id: string, actor: Principal): Promise<ApiKeySummary> {
    const row = await revokeAudited({
      id,
      actor,
      audit: this.audit,
      entityType: 'apiKey',
      notFoundAs: 'api key',
      revoke: (uuid) => this.keys.revoke(uuid, new Date(this.now())),
      afterRevoke: () => this.cache.clear(),
    });
    return summarise(row);
  }

  /** The principal for a presented key; UNAUTHENTICATED for anything else. */
  async authenticate(presented: string | undefined): Promise<Principal> {
    if (!presented) throw errors.unauthenticated('an API key is required (Authorization: Bearer vgl_...)');
    const cached = this.cache.get(presented);
    if (cached && cached.expires > this.now()) return cached.principal;
    const match = KEY_PATTERN.exec(presented);
    if (!match?.[1]) throw errors.unauthenticated('malformed API key');
    const row = await this.keys.findByPrefix(match[1]);
    const expected = Buffer.from(row?.secret_hash ?? '0'.repeat(64), 'hex');
    const given = Buffer.from(hashKey(presented), 'hex');
    if (!row || !timingSafeEqual(expected, given)) throw errors.unauthenticated('unknown API key');
    if (row.revoked_at) throw errors.unauthenticated('this API key has been revoked');
    const summary = summarise(row);
    const principal = keyPrincipal(summary);
    this.cache.set(presented, { principal, expires: this.now() + (this.options.cacheMs ?? 30_000) });
    void this.keys.touch(row.id, new Date(this.now())).catch(() => undefined);
    return principal;
  }
}

/** Reads the key from `Authorization: Bearer <key>` or `x-api-key`. */
export function presentedKey(getHeader: (name: string) => string | undefined): string | undefined {
  const authorization = getHeader('authorization');
  if (authorization) {
    const [scheme, value] = authorization.split(/\s+/, 2);
    if (scheme?.toLowerCase() === 'bearer' && value) return value;
  }
  return getHeader('x-api-key') ?? undefined;
}
