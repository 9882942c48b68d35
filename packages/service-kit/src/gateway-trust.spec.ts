import { createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { ErrorCode, Role, type Principal } from '@vigil/contracts';
import { signPrincipal, verifyPrincipal } from './gateway-trust';

const SECRET = 's'.repeat(32);
const NOW = Date.parse('2024-05-01T10:00:00.000Z');
const alice: Principal = { id: 'key-1', name: 'alice', role: Role.Operator };

function failure(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a failure');
}

/** A header with its payload replaced by `payload`, keeping the original signature. */
function withPayload(header: string, payload: unknown): string {
  const [version, , signature] = header.split('.');
  return `${version}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
}

describe('signPrincipal / verifyPrincipal', () => {
  it('round-trips the principal and request id', () => {
    const header = signPrincipal(alice, SECRET, 'req-7', NOW);
    expect(header).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(verifyPrincipal(header, SECRET, { now: NOW + 1000 })).toEqual({ principal: alice, requestId: 'req-7' });
  });

  it('leaves the request id undefined when none was signed', () => {
    expect(
      verifyPrincipal(signPrincipal(alice, SECRET, undefined, NOW), SECRET, { now: NOW }).requestId,
    ).toBeUndefined();
  });

  it('refuses a missing header', () => {
    expect(failure(() => verifyPrincipal(undefined, SECRET))).toMatchObject({
      code: ErrorCode.Unauthenticated,
      message: expect.stringMatching(/missing gateway identity/),
    });
  });

  it.each([
    ['garbage', 'not-a-header'],
    ['an unknown version', 'v2.abc.def'],
    ['an empty signature', 'v1.abc.'],
    ['an extra segment', `${signPrincipal(alice, SECRET, undefined, NOW)}.extra`],
  ])('refuses %s as malformed', (_what, header) => {
    expect(failure(() => verifyPrincipal(header, SECRET, { now: NOW }))).toMatchObject({
      code: ErrorCode.Unauthenticated,
      message: 'malformed gateway identity',
    });
  });

  it('refuses a header signed with another secret', () => {
    const header = signPrincipal(alice, 'x'.repeat(32), undefined, NOW);
    expect(failure(() => verifyPrincipal(header, SECRET, { now: NOW }))).toMatchObject({
      code: ErrorCode.Unauthenticated,
      message: 'gateway identity has a bad signature',
    });
  });

  it('refuses a payload promoted to admin under the original signature', () => {
    const header = withPayload(signPrincipal(alice, SECRET, undefined, NOW), { ...alice, role: 'admin', iat: NOW });
    expect(failure(() => verifyPrincipal(header, SECRET, { now: NOW })).message).toBe(
      'gateway identity has a bad signature',
    );
  });

  it('refuses a truncated or altered signature', () => {
    const header = signPrincipal(alice, SECRET, undefined, NOW);
    const flipped = header.slice(0, -2) + (header.at(-2) === 'A' ? 'B' : 'A') + header.at(-1);
    expect(failure(() => verifyPrincipal(flipped, SECRET, { now: NOW })).code).toBe(ErrorCode.Unauthenticated);
    expect(failure(() => verifyPrincipal(header.slice(0, -4), SECRET, { now: NOW })).code).toBe(
      ErrorCode.Unauthenticated,
    );
  });

  it('refuses a correctly signed payload that is not a principal', () => {
    // A validly signed header around an arbitrary payload, in the v1 format.
    const sign = (payload: unknown) => {
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `v1.${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
    };
    for (const payload of [
      { id: 'k', name: 'n', role: 'root', iat: NOW },
      { id: '', name: 'n', role: 'viewer', iat: NOW },
      'text',
    ]) {
      expect(failure(() => verifyPrincipal(sign(payload), SECRET, { now: NOW })).message).toBe(
        'malformed gateway identity',
      );
    }
  });

  it('expires after maxAgeMs, in either direction of clock skew', () => {
    const header = signPrincipal(alice, SECRET, undefined, NOW);
    expect(verifyPrincipal(header, SECRET, { now: NOW + 60_000, maxAgeMs: 60_000 }).principal).toEqual(alice);
    for (const now of [NOW + 60_001, NOW - 60_001]) {
      expect(failure(() => verifyPrincipal(header, SECRET, { now, maxAgeMs: 60_000 })).message).toBe(
        'gateway identity has expired',
      );
    }
    // The default window is five minutes.
    expect(() => verifyPrincipal(header, SECRET, { now: NOW + 5 * 60_000 })).not.toThrow();
    expect(() => verifyPrincipal(header, SECRET, { now: NOW + 5 * 60_000 + 1 })).toThrow(/expired/);
  });
});
