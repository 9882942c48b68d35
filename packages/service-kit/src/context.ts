import { randomUUID } from 'node:crypto';
import { errors, roleAllows, type Principal, type Role } from '@vigil/contracts';
import type { Logger } from './logger';
import { PRINCIPAL_HEADER, REQUEST_ID_HEADER, verifyPrincipal } from './gateway-trust';

/** What every subgraph resolver receives. */
export interface RequestContext {
  readonly principal: Principal;
  readonly requestId: string;
  readonly log: Logger;
}

export type HeaderLookup = (name: string) => string | undefined;

export function contextFromHeaders(getHeader: HeaderLookup, secret: string, log: Logger): RequestContext {
  const identity = verifyPrincipal(getHeader(PRINCIPAL_HEADER), secret);
  const requestId = identity.requestId ?? getHeader(REQUEST_ID_HEADER) ?? randomUUID();
  return {
    principal: identity.principal,
    requestId,
    log: log.child({ requestId, actor: identity.principal.name }),
  };
}

export function requireRole(context: Pick<RequestContext, 'principal'>, role: Role): void {
  if (!roleAllows(context.principal.role, role)) {
    throw errors.forbidden(`this needs the ${role} role; your key has ${context.principal.role}`, {
      required: role,
      actual: context.principal.role,
    });
  }
}
