import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { errors, ErrorCode, isVigilError, Role, VigilError, type Principal } from '@vigil/contracts';
import { HTTP_STATUS, parseQuery, requestContextOf, requireRole, sendError, type Logger } from '@vigil/service-kit';
import type { ObjectStore } from '@vigil/storage';
import type { InspectionService } from '../domain/inspections';
import type { Inspection } from '../domain/types';
import { heatmapPath, maskPath } from '../graphql/resolvers';

/** What the router needs to store an uploaded image (the image catalogue). */
export interface ImageIngest {
  ingest(input: {
    bytes: Uint8Array;
    originalName?: string | null;
    metadata?: { line?: string; station?: string; camera?: string; lot?: string; capturedAt?: Date };
    actor: Principal;
  }): Promise<{ image: { id: string } }>;
}

const DetectQuerySchema = z.object({
  modelVersionId: z.string().min(1),
  name: z.string().max(1024).optional(),
  line: z.string().optional(),
  station: z.string().optional(),
  camera: z.string().optional(),
  lot: z.string().optional(),
  capturedAt: z.string().optional(),
  idempotencyKey: z.string().optional(),
});

/** Reads the raw body up to `maxBytes` (413 beyond, without buffering more). */
function readBody(req: Request, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.reject(new VigilError(ErrorCode.PayloadTooLarge, `the upload is over the ${maxBytes}-byte limit`));
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
        reject(new VigilError(ErrorCode.PayloadTooLarge, `the upload is over the ${maxBytes}-byte limit`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (failed) return;
      if (total === 0) reject(errors.badInput('the upload is empty: send the image bytes as the request body'));
      else resolve(Buffer.concat(chunks, total));
    });
    req.on('error', reject);
  });
}

/** The record as REST answers it. */
export function inspectionJson(inspection: Inspection) {
  return {
    ...inspection,
    heatmapPath: inspection.heatmapKey ? heatmapPath(inspection.id) : null,
    maskPath: inspection.maskKey ? maskPath(inspection.id) : null,
  };
}

/** Sends a refused request; RESOURCE_EXHAUSTED carries a retry-after header. */
function refuse(res: Response, error: unknown, log: Logger): void {
  if (isVigilError(error) && error.code === ErrorCode.ResourceExhausted) {
    const seconds = Number(error.details['retryAfterSeconds'] ?? 1);
    res.setHeader('retry-after', String(Math.max(1, Math.ceil(seconds))));
  }
  sendError(res, error, log);
}

/**
 * REST routes for bytes: `POST /detect?modelVersionId=…` with the raw image as the body (stores it through the
 * image catalogue, then detects: one call for a line camera), and an inspection's heat map and mask PNGs.
 * Mount behind gateway trust (`res.locals.vigilContext`).
 */
export function inferenceRouter(deps: {
  inspections: InspectionService;
  catalog: ImageIngest;
  store: ObjectStore;
  maxUploadBytes: number;
  log: Logger;
}): Router {
  const router = Router();

  router.post('/detect', async (req: Request, res: Response) => {
    try {
      const context = requestContextOf(res);
      requireRole(context, Role.Operator);
      const query = parseQuery(DetectQuerySchema, req.query);
      const { modelVersionId, name, idempotencyKey, capturedAt, ...text } = query;
      const metadata = { ...text, ...(capturedAt ? { capturedAt: new Date(capturedAt) } : {}) };
      const bytes = await readBody(req, deps.maxUploadBytes);
      const actor = { principal: context.principal, requestId: context.requestId };
      // Refuse an unhosted or unknown version (or a full queue) before storing anything.
      await deps.inspections.checkDetectable(modelVersionId);
      const { image } = await deps.catalog.ingest({
        bytes,
        originalName: name ?? null,
        metadata,
        actor: context.principal,
      });
      const inspection = await deps.inspections.detect(
        { modelVersionId, imageId: image.id, metadata, ...(idempotencyKey ? { idempotencyKey } : {}) },
        actor,
      );
      const status =
        inspection.status === 'FAILED' && inspection.error
          ? (HTTP_STATUS[inspection.error.code as ErrorCode] ?? 500)
          : inspection.status === 'DONE'
            ? 200
            : 202;
      res.status(status).json({ inspection: inspectionJson(inspection) });
    } catch (error) {
      refuse(res, error, deps.log);
    }
  });

  for (const [route, keyOf] of [
    ['heatmap', (i: Inspection) => i.heatmapKey],
    ['mask', (i: Inspection) => i.maskKey],
  ] as const) {
    router.get(`/inspections/:id/${route}`, async (req: Request, res: Response) => {
      try {
        requestContextOf(res); // any authenticated caller may read pictures
        const inspection = await deps.inspections.get(String(req.params['id']));
        const key = keyOf(inspection);
        if (!key) throw errors.notFound(`${route} of inspection`, inspection.id);
        const bytes = await deps.store.getBuffer(key);
        res.setHeader('content-type', 'image/png');
        res.setHeader('cache-control', 'private, max-age=31536000, immutable');
        res.status(200).end(bytes);
      } catch (error) {
        sendError(res, error, deps.log);
      }
    });
  }

  return router;
}
