import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { ApiKeyRow, DatabaseHandle } from '@vigil/db';
import { ErrorCode, Role, type Principal } from '@vigil/contracts';
import { KyselyAuditTrail, type AuditEvent, type AuditTrail } from '@vigil/service-kit';
import { openMigratedTestDatabase } from '@vigil/images/src/testing';
import { ApiKeyService, KyselyApiKeyRepository, hashKey, presentedKey, type ApiKeyRepository } from './api-keys';

const admin: Principal = { id: 'bootstrap', name: 'bootstrap', role: Role.Admin };
const KEY_SHAPE = /^vgl_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/;

class RecordingAudit implements AuditTrail {
  readonly events: AuditEvent[] = [];
  async record(event: AuditEvent): Promise<void> {
    this.events.push(event);
  }
}

/** Wraps a repository to count lookups, so tests can tell a cache hit from a database read. */
class CountingRepository implements ApiKeyRepository {
  lookups = 0;
  constructor(private readonly inner: ApiKeyRepository) {}
  insert(row: Parameters<ApiKeyRepository['insert']>[0]) {
    return this.inner.insert(row);
  }
  findByPrefix(prefix: string) {
    this.lookups += 1;
    return this.inner.findByPrefix(prefix);
  }
  list() {
    return this.inner.list();
  }
  count() {
    return this.inner.count();
  }
  revoke(id: string, at: Date) {
    return this.inner.revoke(id, at);
  }
  touch(id: string, at: Date) {
    return this.inner.touch(id, at);
  }
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

let handle: DatabaseHandle;
let clock: number;
let repo: CountingRepository;
let audit: RecordingAudit;
let service: ApiKeyService;

beforeAll(async () => {
  handle = await openMigratedTestDatabase();
});
afterAll(() => handle.close());

beforeEach(async () => {
  await handle.db.deleteFrom('api_keys').execute();
  clock = Date.parse('2024-05-01T10:00:00.000Z');
  repo = new CountingRepository(new KyselyApiKeyRepository(handle.db));
  audit = new RecordingAudit();
  service = new ApiKeyService(repo, audit, { cacheMs: 1000, now: () => clock });
});

describe('ApiKeyService.create', () => {
  it('returns a well-formed key once and stores only its hash', async () => {
    const { key, summary } = await service.create({ name: '  line-3 camera  ', role: Role.Operator, actor: admin });
    expect(key).toMatch(KEY_SHAPE);
    expect(summary).toMatchObject({ name: 'line-3 camera', role: 'operator', createdBy: 'bootstrap', revokedAt: null });
    expect(key.startsWith(`vgl_${summary.prefix}_`)).toBe(true);
    const row = await handle.db.selectFrom('api_keys').selectAll().executeTakeFirstOrThrow();
    expect(row.secret_hash).toBe(hashKey(key));
    expect(JSON.stringify(row)).not.toContain(key.slice(17));
  });

  it('gives every key a different prefix and secret', async () => {
    const keys = await Promise.all(
      [1, 2, 3, 4, 5].map((i) => service.create({ name: `k${i}`, role: Role.Viewer, actor: admin })),
    );
    expect(new Set(keys.map((k) => k.key)).size).toBe(5);
    expect(new Set(keys.map((k) => k.summary.prefix)).size).toBe(5);
    expect(await service.hasAny()).toBe(true);
    expect((await service.list()).map((s) => s.name).sort()).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
  });

  it('records an audit event without the secret', async () => {
    const { key, summary } = await service.create({ name: 'ci', role: Role.Admin, actor: admin });
    expect(audit.events).toEqual([
      {
        actor: admin,
        action: 'apiKey.create',
        entityType: 'apiKey',
        entityId: summary.id,
        after: { name: 'ci', prefix: summary.prefix, role: 'admin' },
      },
    ]);
    expect(JSON.stringify(audit.events)).not.toContain(key);
  });

  it.each([
    ['an empty name', '   ', Role.Viewer],
    ['a name over 100 characters', 'x'.repeat(101), Role.Viewer],
    ['an unknown role', 'ok', 'root' as Role],
  ])('refuses %s with BAD_USER_INPUT and writes nothing', async (_what, name, role) => {
    const error = await rejection(service.create({ name, role, actor: admin }));
    expect(error.code).toBe(ErrorCode.BadUserInput);
    expect(await service.hasAny()).toBe(false);
    expect(audit.events).toEqual([]);
  });
});

describe('ApiKeyService.authenticate', () => {
  it('resolves a valid key to its principal and records its use', async () => {
    const { key, summary } = await service.create({ name: 'scanner', role: Role.Operator, actor: admin });
    const principal = await service.authenticate(key);
    expect(principal).toEqual({ id: summary.id, name: 'scanner', role: 'operator' });
    // touch() runs in the background; wait for it by polling the row.
    let row: ApiKeyRow | undefined;
    for (let i = 0; i < 50 && !row?.last_used_at; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      row = await handle.db.selectFrom('api_keys').selectAll().executeTakeFirst();
    }
    expect(row?.last_used_at?.getTime()).toBe(clock);
  });

  it.each([
    ['no key', undefined, /required/],
    ['an empty key', '', /required/],
    ['a key of the wrong shape', 'vgl_short_secret', /malformed/],
    ['a key with a bad prefix marker', `xyz_${'a'.repeat(12)}_${'b'.repeat(43)}`, /malformed/],
    ['an unknown well-formed key', `vgl_${'a'.repeat(12)}_${'b'.repeat(43)}`, /unknown/],
  ])('answers UNAUTHENTICATED for %s', async (_what, presented, message) => {
    await service.create({ name: 'present', role: Role.Viewer, actor: admin });
    const error = await rejection(service.authenticate(presented));
    expect(error.code).toBe(ErrorCode.Unauthenticated);
    expect(error.message).toMatch(message);
  });

  it('refuses a key whose prefix exists but whose secret differs', async () => {
    const { key } = await service.create({ name: 'real', role: Role.Admin, actor: admin });
    const forged = key.slice(0, 17) + (key[17] === 'A' ? 'B' : 'A') + key.slice(18);
    const error = await rejection(service.authenticate(forged));
    expect(error).toMatchObject({ code: ErrorCode.Unauthenticated, message: 'unknown API key' });
  });

  it('caches a successful lookup until cacheMs passes', async () => {
    const { key } = await service.create({ name: 'cached', role: Role.Viewer, actor: admin });
    await service.authenticate(key);
    await service.authenticate(key);
    expect(repo.lookups).toBe(1);
    clock += 1001;
    await service.authenticate(key);
    expect(repo.lookups).toBe(2);
  });

  it('never caches failures', async () => {
    const unknown = `vgl_${'c'.repeat(12)}_${'d'.repeat(43)}`;
    await rejection(service.authenticate(unknown));
    await rejection(service.authenticate(unknown));
    expect(repo.lookups).toBe(2);
  });
});

describe('ApiKeyService.revoke', () => {
  it('revokes at once, even for a key in the cache, and audits the change', async () => {
    const { key, summary } = await service.create({ name: 'leaked', role: Role.Operator, actor: admin });
    await service.authenticate(key);
    const revoked = await service.revoke(summary.id, admin);
    expect(revoked.revokedAt?.getTime()).toBe(clock);
    const error = await rejection(service.authenticate(key));
    expect(error).toMatchObject({ code: ErrorCode.Unauthenticated, message: 'this API key has been revoked' });
    expect(audit.events.at(-1)).toEqual({
      actor: admin,
      action: 'apiKey.revoke',
      entityType: 'apiKey',
      entityId: summary.id,
      before: { revokedAt: null },
      after: { revokedAt: new Date(clock) },
    });
  });

  it('keeps the first revocation time and writes no second audit event when revoked again', async () => {
    const { summary } = await service.create({ name: 'twice', role: Role.Viewer, actor: admin });
    const first = await service.revoke(summary.id, admin);
    clock += 60_000;
    const second = await service.revoke(summary.id, admin);
    expect(second.revokedAt).toEqual(first.revokedAt);
    expect(audit.events.filter((e) => e.action === 'apiKey.revoke')).toHaveLength(1);
  });

  it.each([
    ['an unknown uuid', '00000000-0000-4000-8000-000000000000'],
    ['a non-uuid id', 'not-a-uuid'],
  ])('answers NOT_FOUND for %s', async (_what, id) => {
    const error = await rejection(service.revoke(id, admin));
    expect(error.code).toBe(ErrorCode.NotFound);
  });
});

describe('KyselyApiKeyRepository on PGlite', () => {
  it('inserts, finds, lists, counts, revokes and touches', async () => {
    const keys = new KyselyApiKeyRepository(handle.db);
    expect(await keys.count()).toBe(0);
    const row = await keys.insert({
      name: 'a',
      prefix: 'P'.repeat(12),
      secretHash: 'f'.repeat(64),
      role: 'viewer',
      createdBy: 'me',
    });
    expect(row).toMatchObject({ name: 'a', role: 'viewer', revoked_at: null, last_used_at: null });
    expect((await keys.findByPrefix('P'.repeat(12)))?.id).toBe(row.id);
    expect(await keys.findByPrefix('Q'.repeat(12))).toBeUndefined();
    expect(await keys.count()).toBe(1);
    await keys.touch(row.id, new Date('2024-01-02T03:04:05.678Z'));
    const revoked = await keys.revoke(row.id, new Date('2024-02-03T04:05:06.789Z'));
    expect(revoked?.revokedNow).toBe(true);
    expect(revoked?.row.revoked_at?.toISOString()).toBe('2024-02-03T04:05:06.789Z');
    expect(revoked?.row.last_used_at?.toISOString()).toBe('2024-01-02T03:04:05.678Z');
    const again = await keys.revoke(row.id, new Date('2025-01-01T00:00:00.000Z'));
    expect(again?.revokedNow).toBe(false);
    expect(again?.row.revoked_at?.toISOString()).toBe('2024-02-03T04:05:06.789Z');
    expect(await keys.revoke('00000000-0000-4000-8000-000000000000', new Date())).toBeUndefined();
    expect((await keys.list()).map((r) => r.id)).toEqual([row.id]);
  });

  it('writes audit rows through KyselyAuditTrail', async () => {
    const audited = new ApiKeyService(new KyselyApiKeyRepository(handle.db), new KyselyAuditTrail(handle.db), {
      now: () => clock,
    });
    const { summary } = await audited.create({ name: 'audited', role: Role.Viewer, actor: admin });
    await audited.revoke(summary.id, admin);
    const rows = await handle.db
      .selectFrom('audit_log')
      .selectAll()
      .where('entity_id', '=', summary.id)
      .orderBy('id')
      .execute();
    expect(rows.map((r) => [r.action, r.actor_name, r.entity_type])).toEqual([
      ['apiKey.create', 'bootstrap', 'apiKey'],
      ['apiKey.revoke', 'bootstrap', 'apiKey'],
    ]);
    expect(rows[0]?.after).toEqual({ name: 'audited', prefix: summary.prefix, role: 'viewer' });
    expect(rows[1]?.after).toEqual({ revokedAt: new Date(clock).toISOString() });
  });
});

describe('presentedKey', () => {
  const headers =
    (values: Record<string, string>) =>
    (name: string): string | undefined =>
      values[name];

  it('reads a bearer token, any case of scheme', () => {
    expect(presentedKey(headers({ authorization: 'Bearer vgl_x' }))).toBe('vgl_x');
    expect(presentedKey(headers({ authorization: 'bearer   vgl_y' }))).toBe('vgl_y');
  });

  it('falls back to x-api-key and ignores other schemes', () => {
    expect(presentedKey(headers({ authorization: 'Basic abc', 'x-api-key': 'vgl_z' }))).toBe('vgl_z');
    expect(presentedKey(headers({}))).toBeUndefined();
  });
});
