import { createHash, randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { errors, ErrorCode, VigilError } from '@vigil/contracts';
import type { AuditTrail, Logger } from '@vigil/service-kit';
import type { GatewayContext } from '../context';
import { sendLookoutError } from './errors';
import { OPERATIONS, type LookoutDeps, type LookoutOperation } from './operations';
import { checkSignatureHeaders, verifySignature, type SignatureLookup } from './sigv4';

export const LOOKOUT_PREFIX = '/2020-11-20';

export interface LookoutRouterOptions extends LookoutDeps {
  readonly keys: SignatureLookup;
  readonly audit: AuditTrail;
  readonly log: Logger;
  /** Largest request body read (DetectAnomalies images, UpdateDatasetEntries manifests). */
  readonly maxBodyBytes: number;
  readonly now?: () => number;
}

/** Reads the raw body (the signature covers its bytes) up to `maxBytes`. */
function readRawBody(req: Request, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.reject(
      new VigilError(ErrorCode.PayloadTooLarge, `the request body is over the ${maxBytes}-byte limit`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      total += chunk.length;
      if (total > maxBytes) {
        failed = true;
        reject(new VigilError(ErrorCode.PayloadTooLarge, `the request body is over the ${maxBytes}-byte limit`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, total));
    });
    req.on('error', reject);
  });
}

function queryOf(req: Request): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  const start = req.originalUrl.indexOf('?');
  if (start < 0) return query;
  for (const [key, value] of new URLSearchParams(req.originalUrl.slice(start + 1))) {
    const existing = query[key];
    query[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

function clientTokenOf(req: Request): string | undefined {
  const token = req.get('x-amzn-client-token');
  if (token === undefined) return undefined;
  if (!/^[a-zA-Z0-9-]{1,64}$/.test(token))
    throw errors.badInput('ClientToken must be 1 to 64 letters, digits or hyphens');
  return token;
}

/**
 * The Lookout for Vision–compatible REST API (`/2020-11-20`, AWS rest-json). Mount before any body parser:
 * it reads the raw body, verifies the SigV4 signature over it, then runs the operation as the key's principal
 * through the gateway's own supergraph. Every authenticated call lands in the audit trail; an unsigned or badly
 * signed one is refused with AccessDeniedException before anything is read or written.
 */
export function lookoutRouter(options: LookoutRouterOptions): Router {
  const router = Router({ caseSensitive: true, strict: false });
  const log = options.log.child({ component: 'lookout' });

  const handle = (operation: LookoutOperation) => async (req: Request, res: Response) => {
    const requestId = randomUUID();
    res.setHeader('x-amzn-requestid', requestId);
    let context: GatewayContext | undefined;
    let status = 500;
    try {
      const now = options.now?.() ?? Date.now();
      // Headers, date and key first: an unknown caller never gets the server to read a body.
      await checkSignatureHeaders(
        { method: req.method, url: req.originalUrl, headers: req.headers },
        options.keys,
        now,
      );
      const body = await readRawBody(req, options.maxBodyBytes);
      const verified = await verifySignature(
        { method: req.method, url: req.originalUrl, headers: req.headers, body },
        options.keys,
        now,
      );
      context = { principal: verified.principal, requestId };
      const clientToken = operation.idempotent ? clientTokenOf(req) : undefined;
      const params = Object.fromEntries(Object.entries(req.params).map(([k, v]) => [k, String(v)]));
      const fingerprint = createHash('sha256').update(`${req.method}\n${req.path}\n`).update(body).digest('hex');
      if (clientToken) {
        const previous = await options.store.findResponse(context.principal.id, operation.name, clientToken);
        if (previous) {
          if (previous.fingerprint !== fingerprint) {
            throw errors.conflict('this ClientToken was already used with different parameters');
          }
          status = previous.status;
          res.status(previous.status).json(previous.body);
          return;
        }
      }
      const reply = await operation.handle(
        { context, params, query: queryOf(req), headers: req.headers, body, clientToken },
        options,
      );
      if (clientToken) {
        await options.store.saveResponse(context.principal.id, operation.name, clientToken, {
          fingerprint,
          status: reply.status,
          body: reply.body,
        });
      }
      status = reply.status;
      res.status(reply.status).json(reply.body);
    } catch (error) {
      status = sendLookoutError(res, error, log).status;
    } finally {
      if (context) {
        // Every authenticated call, read or write, answered or refused, is on the record.
        await options.audit
          .record({
            actor: context.principal,
            action: `lookout.${operation.name}`,
            entityType: 'lookoutCall',
            entityId: String(req.params['resourceArn'] ?? req.params['projectName'] ?? operation.name),
            after: { method: req.method, path: req.path, params: req.params, status },
            requestId,
          })
          .catch((error: unknown) => log.error({ err: error }, 'could not record a Lookout call in the audit trail'));
      }
    }
  };

  for (const operation of OPERATIONS) {
    const route = router.route(operation.path);
    const h = handle(operation);
    if (operation.method === 'GET') route.get(h);
    else if (operation.method === 'POST') route.post(h);
    else if (operation.method === 'DELETE') route.delete(h);
    else route.patch(h);
  }
  // Anything else under the prefix: AWS answers an unknown operation with a 404 and an error type.
  router.use((req: Request, res: Response) => {
    req.resume();
    res.setHeader('x-amzn-errortype', 'UnknownOperationException');
    res.status(404).json({ Message: `no Lookout for Vision operation at ${req.method} ${req.path}` });
  });
  return router;
}
