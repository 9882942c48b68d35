import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { AccessKeyPairRow, Database } from '@vigil/db';
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
 * SigV4 access key pairs for the Lookout for Vision–compatible REST layer. Unlike an API key, the secret must
 * be recoverable (the server recomputes the client's HMAC), so it is stored AES-256-GCM encrypted under a key
 * derived (HKDF-SHA256) from the gateway secret, with the access key id as associated data so a ciphertext
 * cannot be moved to another row. Rotating GATEWAY_SECRET therefore invalidates every pair.
 */
const ACCESS_KEY_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const ACCESS_KEY_ID_PATTERN = /^VGLA[A-Z2-7]{16}$/;

function randomAccessKeyId(): string {
  // 32 symbols: every byte maps uniformly with a mask.
  let out = 'VGLA';
  for (const byte of randomBytes(16)) out += ACCESS_KEY_ID_ALPHABET[byte & 31];
  return out;
}

function randomSecret(): string {
  // 40 characters like AWS's, from 30 random bytes.
  return randomBytes(30).toString('base64').replace(/\+/g, 'A').replace(/\//g, 'z');
}

/** Encrypts and decrypts secrets with a key derived from the gateway secret. */
export class SecretBox {
  private readonly key: Buffer;

  constructor(gatewaySecret: string) {
    this.key = Buffer.from(hkdfSync('sha256', gatewaySecret, 'vigil-sigv4-access-keys', 'secret-access-key/v1', 32));
  }

  seal(plain: string, associated: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(associated));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  open(sealed: string, associated: string): string {
    if (!sealed.startsWith('v1.')) throw errors.internal('unknown secret encryption version');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(associated));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}

export interface AccessKeyPairSummary {
  readonly id: string;
  readonly name: string;
  readonly accessKeyId: string;
  readonly role: Role;
  readonly createdAt: Date;
  readonly createdBy: string;
  readonly revokedAt: Date | null;
  readonly lastUsedAt: Date | null;
}

export interface CreatedAccessKeyPair {
  readonly summary: AccessKeyPairSummary;
  /** Shown once; stored only encrypted. */
  readonly secretAccessKey: string;
}

/** What `AccessKeyPairRepository.insert` stores: the secret only as its ciphertext. */
export interface NewAccessKeyPair {
  readonly accessKeyId: string;
  readonly secretCiphertext: string;
  readonly name: string;
  readonly role: Role;
  readonly createdBy: string;
}

export interface AccessKeyPairRepository {
  insert(row: NewAccessKeyPair): Promise<AccessKeyPairRow>;
  findByAccessKeyId(accessKeyId: string): Promise<AccessKeyPairRow | undefined>;
  list(): Promise<AccessKeyPairRow[]>;
  revoke(id: string, at: Date): Promise<RevokeResult<AccessKeyPairRow> | undefined>;
  touch(id: string, at: Date): Promise<void>;
}

export class KyselyAccessKeyPairRepository implements AccessKeyPairRepository {
  constructor(private readonly db: Kysely<Database>) {}

  insert(row: NewAccessKeyPair): Promise<AccessKeyPairRow> {
    return this.db
      .insertInto('access_key_pairs')
      .values({
        access_key_id: row.accessKeyId,
        secret_ciphertext: row.secretCiphertext,
        name: row.name,
        role: row.role,
        created_by: row.createdBy,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
  }
  findByAccessKeyId(accessKeyId: string): Promise<AccessKeyPairRow | undefined> {
    return this.db
      .selectFrom('access_key_pairs')
      .selectAll()
      .where('access_key_id', '=', accessKeyId)
      .executeTakeFirst();
  }
  list(): Promise<AccessKeyPairRow[]> {
    return listKeyRows(this.db, 'access_key_pairs');
  }
  revoke(id: string, at: Date): Promise<RevokeResult<AccessKeyPairRow> | undefined> {
    return revokeKeyRow(this.db, 'access_key_pairs', id, at);
  }
  touch(id: string, at: Date): Promise<void> {
    return touchKeyRow(this.db, 'access_key_pairs', id, at);
  }
}

function summarise(row: AccessKeyPairRow): AccessKeyPairSummary {
  return { id: row.id, name: row.name, accessKeyId: row.access_key_id, ...keyLifecycle(row, 'access key') };
}

/** A live pair's principal and its secret, for signature verification. */
export interface SigningIdentity {
  readonly principal: Principal;
  readonly secretAccessKey: string;
}

export class AccessKeyPairService {
  private readonly box: SecretBox;
  /**
   * Decrypted lookups, cached only when `cacheMs` is set: by default every signed request reads its row (one
   * indexed lookup), so a revocation takes effect at once in every gateway process.
   */
  private readonly cache = new Map<string, { identity: SigningIdentity; expires: number }>();

  constructor(
    private readonly pairs: AccessKeyPairRepository,
    private readonly audit: AuditTrail,
    gatewaySecret: string,
    private readonly options: { cacheMs?: number; now?: () => number } = {},
  ) {
    this.box = new SecretBox(gatewaySecret);
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  async create(input: { name: string; role: Role; actor: Principal }): Promise<CreatedAccessKeyPair> {
    const name = validKeyName(input);
    const accessKeyId = randomAccessKeyId();
    const secretAccessKey = randomSecret();
    const row = await this.pairs.insert({
      accessKeyId,
      secretCiphertext: this.box.seal(secretAccessKey, accessKeyId),
      name,
      role: input.role,
      createdBy: input.actor.name,
    });
    await this.audit.record({
      actor: input.actor,
      action: 'accessKeyPair.create',
      entityType: 'accessKeyPair',
      entityId: row.id,
      after: { name, accessKeyId, role: input.role },
    });
    return { summary: summarise(row), secretAccessKey };
  }

  async list(): Promise<AccessKeyPairSummary[]> {
    return (await this.pairs.list()).map(summarise);
  }

  async revoke(id: string, actor: Principal): Promise<AccessKeyPairSummary> {
    const row = await revokeAudited({
      id,
      actor,
      audit: this.audit,
      entityType: 'accessKeyPair',
      notFoundAs: 'access key pair',
      revoke: (uuid) => this.pairs.revoke(uuid, new Date(this.now())),
      afterRevoke: () => this.cache.clear(),
    });
    return summarise(row);
  }

  /** The identity of a live access key id; UNAUTHENTICATED for an unknown or revoked one. */
  async signingIdentity(accessKeyId: string): Promise<SigningIdentity> {
    const cached = this.cache.get(accessKeyId);
    if (cached && cached.expires > this.now()) return cached.identity;
    if (!ACCESS_KEY_ID_PATTERN.test(accessKeyId)) throw errors.unauthenticated('unknown access key id');
    const row = await this.pairs.findByAccessKeyId(accessKeyId);
    if (!row) throw errors.unauthenticated('unknown access key id');
    if (row.revoked_at) throw errors.unauthenticated('this access key has been revoked');
    const summary = summarise(row);
    let secretAccessKey: string;
    try {
      secretAccessKey = this.box.open(row.secret_ciphertext, row.access_key_id);
    } catch {
      // The gateway secret changed since the pair was made: the pair can no longer be verified.
      throw errors.unauthenticated('this access key cannot be verified with the current gateway secret');
    }
    const identity: SigningIdentity = {
      principal: keyPrincipal(summary),
      secretAccessKey,
    };
    const cacheMs = this.options.cacheMs ?? 0;
    if (cacheMs > 0) this.cache.set(accessKeyId, { identity, expires: this.now() + cacheMs });
    void this.pairs.touch(row.id, new Date(this.now())).catch(() => undefined);
    return identity;
  }
}
