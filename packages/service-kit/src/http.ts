import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { expressMiddleware } from '@as-integrations/express5';
import type { z } from 'zod';
import { describeError, ErrorCode, errors, isVigilError, VigilError } from '@vigil/contracts';
import { contextFromHeaders, type RequestContext } from './context';
import type { Logger } from './logger';
import type { SubgraphServer } from './subgraph';

/** HTTP status for each error code: the one mapping used by every REST-ish route. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_USER_INPUT: 400,
  INVALID_IMAGE: 400,
  INVALID_MANIFEST: 400,
  IMAGE_TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** Sends an error as `{ error: { code, message, details } }` with its status. */
export function sendError(res: Response, error: unknown, log: Logger): void {
  const known = fromBodyParser(error) ?? error;
  const described = describeError(known);
  if (!isVigilError(known)) log.error({ err: error }, 'unhandled error in HTTP handler');
  const body = isVigilError(known) ? described : { code: ErrorCode.Internal, message: 'Internal error', details: {} };
  res.status(HTTP_STATUS[body.code]).json({ error: body });
}

/** express.json()'s own errors (they carry a `type`) are the client's fault, not ours. */
function fromBodyParser(error: unknown): VigilError | null {
  if (typeof error !== 'object' || error === null || !('type' in error)) return null;
  const { type, limit } = error as { type: unknown; limit?: unknown };
  if (type === 'entity.too.large') {
    return new VigilError(
      ErrorCode.PayloadTooLarge,
      `the request body is larger than ${String(limit)} bytes`,
      typeof limit === 'number' ? { limit } : {},
    );
  }
  if (type === 'entity.parse.failed')
    return new VigilError(ErrorCode.BadUserInput, 'the request body is not valid JSON');
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new VigilError(ErrorCode.UnsupportedMediaType, 'the request body encoding is not supported');
  }
  return null;
}

declare module 'express-serve-static-core' {
  interface Locals {
    vigilContext?: RequestContext;
  }
}

/** The caller of a route mounted behind gateway trust; UNAUTHENTICATED when the middleware set none. */
export function requestContextOf(res: Response): RequestContext {
  const context = res.locals.vigilContext;
  if (!context) throw errors.unauthenticated('missing request identity');
  return context;
}

/** A route's query string checked against its schema; BAD_USER_INPUT listing what is wrong. */
export function parseQuery<T>(schema: z.ZodType<T>, query: unknown): T {
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    throw errors.badInput('invalid query parameters', { issues: parsed.error.issues.map((i) => i.message) });
  }
  return parsed.data;
}

/** Mounts a subgraph at `path`; requests without a valid gateway identity get 401 before reaching GraphQL. */
export function mountSubgraph(app: Express, subgraph: SubgraphServer, log: Logger, path = '/graphql'): void {
  app.use(
    path,
    express.json({ limit: '2mb' }),
    async (req: Request, res: Response, next: NextFunction) => {
      try {
        res.locals.vigilContext = await subgraph.contextFor((name) => req.get(name));
        next();
      } catch (error) {
        sendError(res, error, log);
      }
    },
    expressMiddleware(subgraph.apollo, {
      context: async ({ res }) => {
        const context = res.locals.vigilContext;
        if (!context) throw new Error('request context missing');
        return context;
      },
    }),
  );
}

export function createHttpApp(): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', true);
  return app;
}

export interface RunningHttpServer {
  readonly server: Server;
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function listen(app: Express, port: number, host = '0.0.0.0'): Promise<RunningHttpServer> {
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const displayHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return {
    server,
    port: address.port,
    url: `http://${displayHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * Express middleware for a service's REST routes: accepts only requests carrying the gateway's signed
 * identity and puts the resulting RequestContext in `res.locals.vigilContext`.
 */
export function trustGateway(secret: string, log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    try {
      res.locals.vigilContext = contextFromHeaders((name) => req.get(name), secret, log);
      next();
    } catch (error) {
      sendError(res, error, log);
    }
  };
}
