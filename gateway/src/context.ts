import type { Principal } from '@vigil/contracts';
import { PRINCIPAL_HEADER, REQUEST_ID_HEADER, signPrincipal } from '@vigil/service-kit';

/** The gateway's per-request context: who is calling, and the id that follows the request everywhere. */
export interface GatewayContext extends Record<string, unknown> {
  readonly principal: Principal;
  readonly requestId: string;
}

export function identityHeaders(context: GatewayContext, secret: string): Record<string, string> {
  return {
    [PRINCIPAL_HEADER]: signPrincipal(context.principal, secret, context.requestId),
    [REQUEST_ID_HEADER]: context.requestId,
  };
}
