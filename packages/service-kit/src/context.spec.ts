import { describe, expect, it } from '@jest/globals';
import { ErrorCode, Role, type Principal } from '@vigil/contracts';
import { contextFromHeaders, requireRole } from './context';
import { PRINCIPAL_HEADER, REQUEST_ID_HEADER, signPrincipal } from './gateway-trust';
import { silentLogger } from './logger';

const as = (role: Principal['role']) => ({ principal: { id: 'k', name: 'n', role } });

describe('requireRole', () => {
  it.each([
    [Role.Viewer, Role.Viewer],
    [Role.Operator, Role.Viewer],
    [Role.Operator, Role.Operator],
    [Role.Admin, Role.Viewer],
    [Role.Admin, Role.Operator],
    [Role.Admin, Role.Admin],
  ])('lets %s do what needs %s', (actual, required) => {
    expect(() => requireRole(as(actual), required)).not.toThrow();
  });

  it.each([
    [Role.Viewer, Role.Operator],
    [Role.Viewer, Role.Admin],
    [Role.Operator, Role.Admin],
  ])('forbids %s from what needs %s, saying both roles', (actual, required) => {
    let caught: unknown;
    try {
      requireRole(as(actual), required);
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ code: ErrorCode.Forbidden, details: { required, actual } });
  });
});

describe('contextFromHeaders', () => {
  const secret = 'q'.repeat(32);
  const alice: Principal = { id: 'key-1', name: 'alice', role: Role.Viewer };

  it('takes the principal and the signed request id', () => {
    const headers: Record<string, string> = {
      [PRINCIPAL_HEADER]: signPrincipal(alice, secret, 'signed-id'),
      [REQUEST_ID_HEADER]: 'unsigned-id',
    };
    const context = contextFromHeaders((name) => headers[name], secret, silentLogger());
    expect(context.principal).toEqual(alice);
    expect(context.requestId).toBe('signed-id');
  });

  it('falls back to the request id header, then to a fresh id', () => {
    const signed = signPrincipal(alice, secret);
    expect(
      contextFromHeaders((n) => ({ [PRINCIPAL_HEADER]: signed, [REQUEST_ID_HEADER]: 'r-1' })[n], secret, silentLogger())
        .requestId,
    ).toBe('r-1');
    expect(contextFromHeaders((n) => ({ [PRINCIPAL_HEADER]: signed })[n], secret, silentLogger()).requestId).toMatch(
      /^[0-9a-f-]{36}$/,
    );
  });

  it('refuses a request without a gateway identity', () => {
    expect(() => contextFromHeaders(() => undefined, secret, silentLogger())).toThrow(/missing gateway identity/);
  });
});
