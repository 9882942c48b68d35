import { parse, GraphQLScalarType } from 'graphql';
import { Role } from '@vigil/contracts';
import {
  SHARED_TYPE_DEFS,
  DateTimeScalar,
  requireRole,
  type RequestContext,
  type SubgraphDefinition,
} from '@vigil/service-kit';
import type { DeadLetterFilter, DeadLetterService } from './dead-letters';

export const OPERATIONS_SUBGRAPH = 'operations';

export const operationsTypeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@shareable"])

  ${SHARED_TYPE_DEFS}
  scalar JSON

  "Why a dead letter failed, as its last attempt recorded it"
  type DeadLetterError {
    code: String!
    message: String!
    details: JSON
    "Whether the runner would have tried again (false for a dead letter)"
    retryable: Boolean
    "The attempt (1-based) that failed"
    attempt: Int
  }

  "A background job that failed for good: a non-retryable error, or every attempt used"
  type DeadLetter {
    "The job id"
    id: ID!
    queue: String!
    kind: String!
    "FAILED; QUEUED right after a replay"
    status: JobStatus!
    error: DeadLetterError
    attempts: Int!
    payload: JSON
    createdBy: String!
    createdAt: DateTime!
    startedAt: DateTime
    finishedAt: DateTime
    updatedAt: DateTime!
  }

  type DeadLetterConnection {
    nodes: [DeadLetter!]!
    pageInfo: PageInfo!
  }

  input DeadLetterFilter {
    queue: String
    kind: String
  }

  type Query {
    "Failed jobs, newest first (admin)"
    deadLetters(filter: DeadLetterFilter, first: Int = 50, after: String): DeadLetterConnection!
  }

  type Mutation {
    "Runs a dead letter again with a renewed attempts budget (admin); audit-logged as job.replay"
    replayDeadLetter(id: ID!): DeadLetter!
  }
`);

const JsonScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value',
  serialize: (value) => value,
});

/** The gateway's operations subgraph: the dead-letter desk of the job queues. */
export function operationsSubgraph(deps: { deadLetters: DeadLetterService }): SubgraphDefinition {
  return {
    name: OPERATIONS_SUBGRAPH,
    typeDefs: operationsTypeDefs,
    resolvers: {
      DateTime: DateTimeScalar,
      JSON: JsonScalar,
      Query: {
        deadLetters: (
          _: unknown,
          args: { filter?: DeadLetterFilter | null; first?: number | null; after?: string | null },
          ctx: RequestContext,
        ) => {
          requireRole(ctx, Role.Admin);
          return deps.deadLetters.list(args.filter ?? {}, args.first, args.after);
        },
      },
      Mutation: {
        replayDeadLetter: (_: unknown, args: { id: string }, ctx: RequestContext) => {
          requireRole(ctx, Role.Admin);
          return deps.deadLetters.replay(args.id, ctx.principal, ctx.requestId);
        },
      },
    },
  };
}
