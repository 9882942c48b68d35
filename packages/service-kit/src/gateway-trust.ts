import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { errors, isRole, type Principal } from '@vigil/contracts';

/**
 * Subgraphs trust only the gateway. The gateway authenticates the caller, then sends the principal to a
 * subgraph in a header signed with a secret both share; a bare user header is never believed.
 * Format: `v1.<base64url(json payload)>.<base64url(hmac-sha256)>`; the payload carries an issue time so a
 * captured header stops working after `maxAgeMs`.
 */
export const PRINCIPAL_HEADER = 'x-vigil-principal';
export const REQUEST_ID_HEADER = 'x-request-id';

const PayloadSchema = z.object({
  id: z.string().min(1),
  name: z.string(),
  role: z.string().refine(isRole, 'unknown role'),
  iat: z.number(),
  rid: z.string().optional(),
});

export interface SignedIdentity {
  readonly principal: Principal;
  readonly requestId: string | undefined;
}

function hmac(secret: string, data: string): Buffer {
  return createHmac('sha256', secret).update(data).digest();
}

export function signPrincipal(principal: Principal, secret: string, requestId?: string, now = Date.now()): string {
  const payload = Buffer.from(
    JSON.stringify({ id: principal.id, name: principal.name, role: principal.role, iat: now, rid: requestId }),
  ).toString('base64url');
  return `v1.${payload}.${hmac(secret, payload).toString('base64url')}`;
}

export function verifyPrincipal(
  header: string | undefined,
  secret: string,
  options: { now?: number; maxAgeMs?: number } = {},
): SignedIdentity {
  if (!header)
    throw errors.unauthenticated('missing gateway identity: subgraphs are reachable only through the gateway');
  const parts = header.split('.');
  const [version, payload, signature] = parts;
  // Exactly three parts: trailing segments would otherwise ride along unsigned.
  if (parts.length !== 3 || version !== 'v1' || !payload || !signature)
    throw errors.unauthenticated('malformed gateway identity');
  const expected = hmac(secret, payload);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw errors.unauthenticated('gateway identity has a bad signature');
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw errors.unauthenticated('malformed gateway identity');
  }
  const parsed = PayloadSchema.safeParse(decoded);
  if (!parsed.success) throw errors.unauthenticated('malformed gateway identity');
  const now = options.now ?? Date.now();
  const maxAge = options.maxAgeMs ?? 5 * 60_000;
  if (Math.abs(now - parsed.data.iat) > maxAge) throw errors.unauthenticated('gateway identity has expired');
  const { id, name, role, rid } = parsed.data;
  return { principal: { id, name, role: role as Principal['role'] }, requestId: rid };
}
