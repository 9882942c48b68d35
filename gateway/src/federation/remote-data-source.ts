import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { identityHeaders, type GatewayContext } from '../context';

type WillSendRequestOptions = Parameters<NonNullable<RemoteGraphQLDataSource<GatewayContext>['willSendRequest']>>[0];

function isGatewayContext(context: unknown): context is GatewayContext {
  return typeof context === 'object' && context !== null && 'principal' in context && 'requestId' in context;
}

/** A subgraph over HTTP; every request carries the caller's identity signed with the shared secret. */
export class SignedRemoteDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(
    url: string,
    private readonly secret: string,
  ) {
    super({ url });
  }

  override willSendRequest({ request, context }: WillSendRequestOptions): void {
    // Health checks and schema loading carry no caller; they get no identity.
    if (!isGatewayContext(context)) return;
    for (const [name, value] of Object.entries(identityHeaders(context, this.secret))) {
      request.http?.headers.set(name, value);
    }
  }
}

export type { GraphQLDataSourceProcessOptions };
