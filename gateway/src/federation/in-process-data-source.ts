import type { GatewayGraphQLResponse, GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import { HeaderMap } from '@apollo/server';
import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { SubgraphServer } from '@vigil/service-kit';

/**
 * Sends the gateway's subgraph requests to a subgraph in the same process, through the same
 * HTTP-level entry point (headers included) that a remote subgraph would see, so the embedded mode
 * exercises the same trust and context code as the distributed one without a socket.
 */
export class InProcessDataSource<TContext extends Record<string, unknown>> implements GraphQLDataSource<TContext> {
  constructor(
    private readonly subgraph: SubgraphServer,
    private readonly headersFor: (context: TContext) => Record<string, string>,
  ) {}

  async process(options: GraphQLDataSourceProcessOptions<TContext>): Promise<GatewayGraphQLResponse> {
    const context = options.context as TContext;
    const headers = new HeaderMap([['content-type', 'application/json']]);
    for (const [name, value] of Object.entries(this.headersFor(context))) headers.set(name, value);
    const response = await this.subgraph.apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: 'POST',
        headers,
        search: '',
        body: {
          query: options.request.query,
          variables: options.request.variables ?? {},
          ...(options.request.operationName ? { operationName: options.request.operationName } : {}),
        },
      },
      context: () => this.subgraph.contextFor((name) => headers.get(name.toLowerCase())),
    });
    let text = '';
    if (response.body.kind === 'complete') {
      text = response.body.string;
    } else {
      for await (const chunk of response.body.asyncIterator) text += chunk;
    }
    return JSON.parse(text) as GatewayGraphQLResponse;
  }
}

export type { GatewayGraphQLRequestContext };
