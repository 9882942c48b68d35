import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { errors, ErrorCode, Role, VigilError } from '@vigil/contracts';
import { IMAGE_CONTENT_TYPES, type ImageCatalog } from '@vigil/images';
import { requireRole, sendError, type Logger, type RequestContext } from '@vigil/service-kit';
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

/** Reads a request body up to `maxBytes`, failing as soon as it is exceeded (never buffering more). */
async function readBody(req: Request, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new VigilError(ErrorCode.PayloadTooLarge, `the upload is ${declared} bytes; the limit is ${maxBytes}`, {
      limit: maxBytes,
    });
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string);
    total += buffer.length;
    if (total > maxBytes) {
      req.destroy();
      throw new VigilError(ErrorCode.PayloadTooLarge, `the upload is over the ${maxBytes}-byte limit`, {
        limit: maxBytes,
      });
    }
    chunks.push(buffer);
  }
  if (total === 0) throw errors.badInput('the upload is empty: send the image bytes as the request body');
  return Buffer.concat(chunks, total);
}

/**
 * REST routes for image bytes, which GraphQL carries badly: `POST /images` with the raw image as the body
 * (metadata in the query string) and `GET /images/:id/content`. Callers must already carry a request
 * context (`res.locals.vigilContext`), set by the gateway-trust middleware in front of this router.
 */
export function imagesRouter(deps: { catalog: ImageCatalog; maxUploadBytes: number; log: Logger }): Router {
  const router = Router();

  router.post('/images', async (req: Request, res: Response) => {
    try {
      const context = res.locals.vigilContext as RequestContext | undefined;
      if (!context) throw errors.unauthenticated('missing request identity');
      requireRole(context, Role.Operator);
      const query = MetadataQuerySchema.safeParse(req.query);
      if (!query.success)
        throw errors.badInput('invalid query parameters', { issues: query.error.issues.map((i) => i.message) });
      const { name, tags, capturedAt, ...rest } = query.data;
      const bytes = await readBody(req, deps.maxUploadBytes);
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
      // Drain nothing more: the connection is closed for oversize bodies.
      sendError(res, error, deps.log);
    }
  });

  router.get('/images/:id/content', async (req: Request, res: Response) => {
    try {
      const context = res.locals.vigilContext as RequestContext | undefined;
      if (!context) throw errors.unauthenticated('missing request identity');
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
