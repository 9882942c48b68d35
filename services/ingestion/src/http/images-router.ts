import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { errors, ErrorCode, Role, VigilError } from '@vigil/contracts';
import { IMAGE_CONTENT_TYPES, type ImageCatalog } from '@vigil/images';
import { parseQuery, requestContextOf, requireRole, sendError, type Logger } from '@vigil/service-kit';
import { contentPath } from '../graphql/resolvers';

const MetadataQuerySchema = z.object({
  name: z.string().max(1024).optional(),
  line: z.string().optional(),
  station: z.string().optional(),
  camera: z.string().optional(),
  lot: z.string().optional(),
  capturedAt: z.string().optional(),
  tags: z.string().optional(),
});

/**
 * Reads a request body up to `maxBytes`, failing as soon as it is exceeded (never buffering more). An oversize
 * body is not destroyed mid-read, which would reset the connection before the 413 reaches the client: the rest
 * is discarded unread and the connection is closed once the response is sent.
 */
function readBody(req: Request, res: Response, maxBytes: number): Promise<Buffer> {
  const tooLarge = (message: string) => {
    res.setHeader('connection', 'close');
    return new VigilError(ErrorCode.PayloadTooLarge, message, { limit: maxBytes });
  };
  const declared = Number(req.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.reject(tooLarge(`the upload is ${declared} bytes; the limit is ${maxBytes}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const stop = (error: unknown) => {
      req.off('data', onData).off('end', onEnd).off('error', stop);
      // Still flowing with no listener: the remainder is read and dropped.
      req.resume();
      reject(error);
    };
    const onData = (chunk: Buffer | string) => {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      total += buffer.length;
      if (total > maxBytes) return stop(tooLarge(`the upload is over the ${maxBytes}-byte limit`));
      chunks.push(buffer);
    };
    const onEnd = () => {
      if (total === 0) return reject(errors.badInput('the upload is empty: send the image bytes as the request body'));
      resolve(Buffer.concat(chunks, total));
    };
    req.on('data', onData).on('end', onEnd).on('error', stop);
  });
}

/**
 * REST routes for image bytes, which GraphQL carries badly: `POST /images` with the raw image as the body
 * (metadata in the query string) and `GET /images/:id/content`. Callers must already carry a request
 * context (`res.locals.vigilContext`), set by the gateway-trust middleware in front of this router.
 */
export function imagesRouter(deps: {
  catalog: Pick<ImageCatalog, 'ingest' | 'get' | 'readBytes'>;
  maxUploadBytes: number;
  log: Logger;
}): Router {
  const router = Router();

  router.post('/images', async (req: Request, res: Response) => {
    try {
      const context = requestContextOf(res);
      requireRole(context, Role.Operator);
      const query = parseQuery(MetadataQuerySchema, req.query);
      const { name, tags, capturedAt, ...rest } = query;
      const bytes = await readBody(req, res, deps.maxUploadBytes);
      const result = await deps.catalog.ingest({
        bytes,
        originalName: name ?? null,
        metadata: {
          ...rest,
          ...(capturedAt ? { capturedAt: new Date(capturedAt) } : {}),
          ...(tags
            ? {
                tags: tags
                  .split(',')
                  .map((t) => t.trim())
                  .filter(Boolean),
              }
            : {}),
        },
        actor: context.principal,
      });
      res.status(result.deduplicated ? 200 : 201).json({
        image: { ...result.image, contentPath: contentPath(result.image.id) },
        deduplicated: result.deduplicated,
      });
    } catch (error) {
      sendError(res, error, deps.log);
    }
  });

  router.get('/images/:id/content', async (req: Request, res: Response) => {
    try {
      requestContextOf(res); // any authenticated caller may read images
      const id = String(req.params['id']);
      const image = await deps.catalog.get(id);
      const bytes = await deps.catalog.readBytes(id);
      res.setHeader('content-type', IMAGE_CONTENT_TYPES[image.format]);
      res.setHeader('cache-control', 'private, max-age=31536000, immutable');
      res.setHeader('etag', `"${image.id}"`);
      res.status(200).end(bytes);
    } catch (error) {
      sendError(res, error, deps.log);
    }
  });

  return router;
}
