import { ApolloServer, HeaderMap, type BaseContext } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { DocumentNode } from 'graphql';
import { contextFromHeaders, type RequestContext } from './context';
import { formatGraphQLError } from './graphql-errors';
import type { Logger } from './logger';

export type SubgraphResolvers = GraphQLResolverMap<RequestContext>;

/** A subgraph as code: its schema and resolvers, independent of how it is served. */
export interface SubgraphDefinition {
  readonly name: string;
  readonly typeDefs: DocumentNode;
  readonly resolvers: SubgraphResolvers;
}

export interface SubgraphServer {
  readonly name: string;
  readonly typeDefs: DocumentNode;
  readonly apollo: ApolloServer<RequestContext>;
  /** Builds the request context from HTTP headers (verifies the gateway's signature). */
  contextFor(getHeader: (name: string) => string | undefined): Promise<RequestContext>;
}

export async function createSubgraphServer(
  definition: SubgraphDefinition,
  options: { gatewaySecret: string; log: Logger; introspection?: boolean },
): Promise<SubgraphServer> {
  const log = options.log.child({ subgraph: definition.name });
  const apollo = new ApolloServer<RequestContext>({
    schema: buildSubgraphSchema([{ typeDefs: definition.typeDefs, resolvers: definition.resolvers }]),
    formatError: formatGraphQLError(log),
    introspection: options.introspection ?? true,
    includeStacktraceInErrorResponses: false,
    // The process's own shutdown (onShutdown) stops everything in order; Apollo's handler would stop the
    // server first and then re-send the signal, which onShutdown reads as an impatient second one.
    stopOnTerminationSignals: false,
    // Traces are for Apollo's hosted studio, which a self-hosted plant does not use.
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });
  await apollo.start();
  return {
    name: definition.name,
    typeDefs: definition.typeDefs,
    apollo,
    contextFor: async (getHeader) => contextFromHeaders(getHeader, options.gatewaySecret, log),
  };
}

export { HeaderMap };
export type { BaseContext };
