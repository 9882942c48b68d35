import { parse, GraphQLScalarType } from 'graphql';
import { Role, ROLES } from '@vigil/contracts';
import {
  SHARED_TYPE_DEFS,
  DateTimeScalar,
  enumValues,
  requireRole,
  type RequestContext,
  type SubgraphDefinition,
} from '@vigil/service-kit';
import type { ApiKeyService } from '../auth/api-keys';
import type { AccessKeyPairService } from '../auth/access-key-pairs';
import type { AuditFilter, AuditLogReader } from './audit-query';

export const accessTypeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@shareable"])

  ${SHARED_TYPE_DEFS}
  scalar JSON

  enum Role {
    VIEWER
    OPERATOR
    ADMIN
  }

  type ApiKey {
    id: ID!
    name: String!
    "The non-secret start of the key, to recognise it"
    prefix: String!
    role: Role!
    createdAt: DateTime!
    createdBy: String!
    revokedAt: DateTime
    lastUsedAt: DateTime
  }

  type CreatedApiKey {
    apiKey: ApiKey!
    "The full key. Shown once: store it now."
    secret: String!
  }

  "A SigV4 access key pair for the Lookout for Vision–compatible REST API"
  type AccessKeyPair {
    id: ID!
    name: String!
    accessKeyId: String!
    role: Role!
    createdAt: DateTime!
    createdBy: String!
    revokedAt: DateTime
    lastUsedAt: DateTime
  }

  type CreatedAccessKeyPair {
    accessKeyPair: AccessKeyPair!
    "The secret access key. Shown once: store it now."
    secretAccessKey: String!
  }

  type Viewer {
    id: ID!
    name: String!
    role: Role!
  }

  type AuditEntry {
    id: ID!
    at: DateTime!
    actorId: String!
    actorName: String!
    action: String!
    entityType: String!
    entityId: String!
    before: JSON
    after: JSON
    requestId: String
  }

  type AuditConnection {
    nodes: [AuditEntry!]!
    pageInfo: PageInfo!
  }

  input AuditFilter {
    entityType: String
    entityId: String
    actorId: String
    action: String
    since: DateTime
    until: DateTime
  }

  type Query {
    "The caller, as the gateway authenticated it"
    viewer: Viewer!
    apiKeys: [ApiKey!]!
    accessKeyPairs: [AccessKeyPair!]!
    "The append-only audit trail, newest first (admin)"
    auditLog(filter: AuditFilter, first: Int = 50, after: String): AuditConnection!
  }

  type Mutation {
    createApiKey(name: String!, role: Role!): CreatedApiKey!
    revokeApiKey(id: ID!): ApiKey!
    "An AccessKeyId and SecretAccessKey for AWS SigV4 clients (boto3, the AWS SDKs) of the Lookout-compatible API"
    createAccessKeyPair(name: String!, role: Role!): CreatedAccessKeyPair!
    revokeAccessKeyPair(id: ID!): AccessKeyPair!
  }
`);

const JsonScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value',
  serialize: (value) => value,
});

/** The gateway's own subgraph: who you are, API keys and the audit trail. */
export function accessSubgraph(deps: {
  apiKeys: ApiKeyService;
  audit: AuditLogReader;
  accessKeys: AccessKeyPairService;
}): SubgraphDefinition {
  return {
    name: 'access',
    typeDefs: accessTypeDefs,
    resolvers: {
      DateTime: DateTimeScalar,
      JSON: JsonScalar,
      Role: enumValues(ROLES),
      Query: {
        viewer: (_: unknown, __: unknown, ctx: RequestContext) => ctx.principal,
        apiKeys: (_: unknown, __: unknown, ctx: RequestContext) => {
          requireRole(ctx, Role.Admin);
          return deps.apiKeys.list();
        },
        accessKeyPairs: (_: unknown, __: unknown, ctx: RequestContext) => {
          requireRole(ctx, Role.Admin);
          return deps.accessKeys.list();
        },
        auditLog: (_: unknown, args: { filter?: AuditFilter; first?: number; after?: string }, ctx: RequestContext) => {
          requireRole(ctx, Role.Admin);
          return deps.audit.list(args.filter ?? {}, args.first, args.after);
        },
      },
      Mutation: {
        createApiKey: async (_: unknown, args: { name: string; role: Role }, ctx: RequestContext) => {
          requireRole(ctx, Role.Admin);
          const created = await deps.apiKeys.create({ name: args.name, role: args.role, actor: ctx.principal });
          return { apiKey: created.summary, secret: created.key };
        },
        revokeApiKey: (_: unknown, args: { id: string }, ctx: RequestContext) => {
          requireRole(ctx, Role.Admin);
          return deps.apiKeys.revoke(args.id, ctx.principal);
        },
        createAccessKeyPair: async (_: unknown, args: { name: string; role: Role }, ctx: RequestContext) => {
          requireRole(ctx, Role.Admin);
          const created = await deps.accessKeys.create({ name: args.name, role: args.role, actor: ctx.principal });
          return { accessKeyPair: created.summary, secretAccessKey: created.secretAccessKey };
        },
        revokeAccessKeyPair: (_: unknown, args: { id: string }, ctx: RequestContext) => {
          requireRole(ctx, Role.Admin);
          return deps.accessKeys.revoke(args.id, ctx.principal);
        },
      },
    },
  };
}
