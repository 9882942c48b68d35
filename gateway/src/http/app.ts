import { randomUUID } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloGateway, type GraphQLDataSource } from '@apollo/gateway';
import type { GatewayInterface } from '@apollo/server-gateway-interface';
import express, { type Express, type NextFunction, type Request, type Response, type RequestHandler } from 'express';
import { createHttpApp, formatGraphQLError, REQUEST_ID_HEADER, sendError, type Logger } from '@vigil/service-kit';
import { presentedKey, type ApiKeyService } from '../auth/api-keys';
import type { GatewayContext } from '../context';

export interface HealthCheck {
  readonly name: string;
  check(): Promise<void>;
}

export interface GatewayAppOptions {
  readonly supergraphSdl: string;
  /** Builds the data source for each subgraph named in the supergraph. */
  readonly dataSourceFor: (name: string, url: string) => GraphQLDataSource<GatewayContext>;
  readonly apiKeys: ApiKeyService;
  readonly log: Logger;
  readonly healthChecks: readonly HealthCheck[];
  /** Extra authenticated routes (e.g. image upload), mounted after authentication. */
  readonly routes?: (app: Express, authenticate: RequestHandler) => void;
  readonly maxRequestBytes?: number;
  /**
   * Routes that authenticate themselves and need the raw body (the Lookout-compatible REST API, SigV4), mounted
   * before any body parser; `execute` runs GraphQL on this gateway's supergraph as a given caller.
   */
  readonly rawRoutes?: (app: Express, execute: GraphQLExecutor) => void;
}

/** Runs an operation on the gateway's own supergraph as `context`'s principal (roles and audit apply). */
export type GraphQLExecutor = (
  context: GatewayContext,
  query: string,
  variables?: Record<string, unknown>,
) => Promise<{
  data?: Record<string, unknown> | null;
  errors?: readonly { message: string; extensions?: Record<string, unknown> }[];
}>;

declare module 'express-serve-static-core' {
  interface Locals {
    gatewayContext?: GatewayContext;
  }
}

export interface GatewayApp {
  readonly app: Express;
  readonly apollo: ApolloServer<GatewayContext>;
  stop(): Promise<void>;
}

export async function createGatewayApp(options: GatewayAppOptions): Promise<GatewayApp> {
  const { log } = options;
  const gateway = new ApolloGateway({
    supergraphSdl: options.supergraphSdl,
    buildService: ({ name, url }) => options.dataSourceFor(name, url ?? ''),
    logger: log.child({ component: 'apollo-gateway' }),
  });
  const apollo = new ApolloServer<GatewayContext>({
    // @apollo/gateway 2.x declares server-gateway-interface 1.x; Apollo Server 5 accepts the same shape.
    gateway: gateway as unknown as GatewayInterface,
    formatError: formatGraphQLError(log),
    introspection: true,
    includeStacktraceInErrorResponses: false,
    // Shutdown is the process's (onShutdown): Apollo's own handler would re-send the signal mid-shutdown.
    stopOnTerminationSignals: false,
  });
  await apollo.start();

  const app = createHttpApp();

  const execute: GraphQLExecutor = async (context, query, variables = {}) => {
    const response = await apollo.executeOperation({ query, variables }, { contextValue: context });
    if (response.body.kind !== 'single') throw new Error('incremental GraphQL responses are not supported here');
    const result = response.body.singleResult;
    return {
      data: (result.data as Record<string, unknown> | null | undefined) ?? null,
      ...(result.errors
        ? {
            errors: result.errors.map((e) => ({
              message: e.message,
              ...(e.extensions ? { extensions: e.extensions as Record<string, unknown> } : {}),
            })),
          }
        : {}),
    };
  };
  options.rawRoutes?.(app, execute);

  const authenticate: RequestHandler = async (req: Request, res: Response, next: NextFunction) => {
    try {
      const principal = await options.apiKeys.authenticate(presentedKey((name) => req.get(name)));
      const requestId = req.get(REQUEST_ID_HEADER) ?? randomUUID();
      res.locals.gatewayContext = { principal, requestId };
      res.setHeader(REQUEST_ID_HEADER, requestId);
      next();
    } catch (error) {
      sendError(res, error, log);
    }
  };

  app.get('/healthz', async (_req, res) => {
    const results = await Promise.all(
      options.healthChecks.map(async (c) => {
        try {
          await c.check();
          return [c.name, 'ok'] as const;
        } catch (error) {
          return [c.name, error instanceof Error ? error.message : String(error)] as const;
        }
      }),
    );
    const healthy = results.every(([, status]) => status === 'ok');
    res.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'degraded', checks: Object.fromEntries(results) });
  });

  options.routes?.(app, authenticate);

  app.use(
    '/graphql',
    authenticate,
    express.json({ limit: options.maxRequestBytes ?? 1_000_000 }),
    expressMiddleware(apollo, {
      context: async ({ res }) => {
        const context = res.locals.gatewayContext;
        if (!context) throw new Error('gateway context missing');
        return context;
      },
    }),
  );

  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(err);
    sendError(res, err, log);
  });

  return {
    app,
    apollo,
    stop: async () => {
      await apollo.stop();
    },
  };
}
