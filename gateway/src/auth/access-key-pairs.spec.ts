import { describe, expect, it } from '@jest/globals';
import { Role, SYSTEM_PRINCIPAL } from '@vigil/contracts';
import type { AccessKeyPairRow } from '@vigil/db';
import type { AuditEvent } from '@vigil/service-kit';
import {
  ACCESS_KEY_ID_PATTERN,
  AccessKeyPairService,
  SecretBox,
  type AccessKeyPairRepository,
} from './access-key-pairs';

const SECRET = 'gateway-secret-of-at-least-thirty-two-characters';

class MemoryPairs implements AccessKeyPairRepository {
  readonly rows: AccessKeyPairRow[] = [];
  async insert(row: { accessKeyId: string; secretCiphertext: string; name: string; role: Role; createdBy: string }) {
    const stored: AccessKeyPairRow = {
      id: `00000000-0000-4000-8000-00000000000${this.rows.length + 1}`,
      access_key_id: row.accessKeyId,
      secret_ciphertext: row.secretCiphertext,
      name: row.name,
      role: row.role,
      created_at: new Date(),
      created_by: row.createdBy,
      revoked_at: null,
      last_used_at: null,
    };
    this.rows.push(stored);
    return stored;
  }
  async findByAccessKeyId(id: string) {
    return this.rows.find((r) => r.access_key_id === id);
  }
  async list() {
    return this.rows;
  }
  async revoke(id: string, at: Date) {
    const row = this.rows.find((r) => r.id === id);
    if (!row) return undefined;
    const revokedNow = row.revoked_at === null;
    if (revokedNow) row.revoked_at = at;
    return { row, revokedNow };
  }
  async touch() {}
}

describe('SigV4 access key pairs', () => {
  it('seals secrets with AES-256-GCM bound to the access key id', () => {
    const box = new SecretBox(SECRET);
    const sealed = box.seal('the-secret', 'VGLAAAAAAAAAAAAAAAAA');
    expect(sealed).not.toContain('the-secret');
    expect(box.open(sealed, 'VGLAAAAAAAAAAAAAAAAA')).toBe('the-secret');
    expect(() => box.open(sealed, 'VGLABBBBBBBBBBBBBBBB')).toThrow();
    expect(() => new SecretBox(`${SECRET}-rotated`).open(sealed, 'VGLAAAAAAAAAAAAAAAAA')).toThrow();
  });

  it('creates a pair (audited, secret never stored in clear), verifies it, and revokes it', async () => {
    const repo = new MemoryPairs();
    const events: AuditEvent[] = [];
    const service = new AccessKeyPairService(repo, { record: async (e) => void events.push(e) }, SECRET, {
      cacheMs: 0,
    });
    const created = await service.create({ name: 'line 1', role: Role.Operator, actor: SYSTEM_PRINCIPAL });
    expect(created.summary.accessKeyId).toMatch(ACCESS_KEY_ID_PATTERN);
    expect(created.secretAccessKey).toHaveLength(40);
    expect(JSON.stringify(repo.rows)).not.toContain(created.secretAccessKey);
    expect(JSON.stringify(events)).not.toContain(created.secretAccessKey);
    expect(events.map((e) => e.action)).toEqual(['accessKeyPair.create']);

    const identity = await service.signingIdentity(created.summary.accessKeyId);
    expect(identity).toEqual({
      principal: { id: created.summary.id, name: 'line 1', role: Role.Operator },
      secretAccessKey: created.secretAccessKey,
    });
    await expect(service.signingIdentity('VGLAZZZZZZZZZZZZZZZZ')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await service.revoke(created.summary.id, SYSTEM_PRINCIPAL);
    await expect(service.signingIdentity(created.summary.accessKeyId)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    // A rotated gateway secret cannot open the stored ciphertext: the pair no longer verifies.
    const second = await service.create({ name: 'line 2', role: Role.Viewer, actor: SYSTEM_PRINCIPAL });
    const rotated = new AccessKeyPairService(repo, { record: async () => undefined }, `${SECRET}-rotated`);
    await expect(rotated.signingIdentity(second.summary.accessKeyId)).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
  });
});
