import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { pipeline } from 'node:stream/promises';
import type { Request, RequestHandler, Response } from 'express';
import { errors, ErrorCode, VigilError } from '@vigil/contracts';
import { PRINCIPAL_HEADER, sendError, type Logger } from '@vigil/service-kit';
import { identityHeaders } from '../context';

/**
 * Headers that describe one hop, or the caller's credentials: never forwarded. The caller's API key stays at
 * the gateway; the service sees only the identity the gateway signed.
 */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
  'x-api-key',
  'cookie',
  PRINCIPAL_HEADER,
]);

function forwardable(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !NOT_FORWARDED.has(name)) result[name] = value;
  }
  return result;
}

/**
 * Streams an authenticated request (`/v1/images...`) to the ingestion service and its answer back, both
 * ways without buffering, so upload size limits stay the service's and large images cost no gateway memory.
 * Mount after the gateway's authentication: it signs the caller's identity exactly as for GraphQL.
 */
export function imagesProxy(options: { target: string; secret: string; log: Logger }): RequestHandler {
  const base = new URL(options.target);
  const basePath = base.pathname.replace(/\/+$/, '');
  const client = base.protocol === 'https:' ? https : http;
  const log = options.log.child({ component: 'images-proxy' });

  return (req: Request, res: Response) => {
    const context = res.locals.gatewayContext;
    if (!context) {
      sendError(res, errors.unauthenticated('an API key is required'), log);
      return;
    }
    const target = new URL(`${basePath}${req.originalUrl}`, base);
    const upstream = client.request(target, {
      method: req.method,
      headers: { ...forwardable(req.headers), ...identityHeaders(context, options.secret) },
    });
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
      pipeline(answer, res).catch((error: unknown) => log.debug({ err: error }, 'client went away mid-response'));
    });
    upstream.on('error', (error) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      log.warn({ err: error, target: target.origin }, 'ingestion service unreachable');
      sendError(res, new VigilError(ErrorCode.Unavailable, 'the ingestion service is unreachable; try again'), log);
    });
    // A client that goes away mid-upload must not leave the upstream request open.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    pipeline(req, upstream).catch(() => {
      // Reported through the upstream 'error' handler above, or the client went away.
    });
  };
}
