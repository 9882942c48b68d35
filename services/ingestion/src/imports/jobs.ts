import { z } from 'zod';
import { CaptureMetadataSchema, errors } from '@vigil/contracts';
import type { JobRow } from '@vigil/db';
import {
  QueuedJobs,
  toJobView,
  type AuditTrail,
  type JobPort,
  type JobView,
  type RequestContext,
} from '@vigil/service-kit';
import type { jobsV1 } from '@vigil/proto';
import {
  encodeImportImagesPayload,
  IngestionJobKind,
  IngestionQueue,
  type ImageImportSummary,
  type ImportImagesPayload,
} from './payloads';

export type { JobPort } from '@vigil/service-kit';

export type ImageImportJobView = JobView<ImageImportSummary> & { readonly source: string };

const InputSchema = z.object({
  source: z.string().trim().min(1),
  // GraphQL lets a client send `station: null` for a nullable input field; that means "not given".
  metadata: z.preprocess((value) => (isRecord(value) ? stripNulls(value) : value), CaptureMetadataSchema).nullish(),
  idempotencyKey: z.string().min(1).max(200).nullish(),
});

function view(row: JobRow): ImageImportJobView {
  // Rows are read as stored, without decoding: a view must show even a job whose payload is malformed.
  const payload = row.payload as jobsV1.ImportImagesJobJson | null;
  return { ...toJobView<ImageImportSummary>(row), source: payload?.source ?? '' };
}

type Actor = Pick<RequestContext, 'principal'> & { readonly requestId?: string };

export class ImageImportJobs {
  private readonly queued: QueuedJobs<ImageImportJobView>;

  constructor(
    jobs: JobPort,
    private readonly audit: AuditTrail,
  ) {
    this.queued = new QueuedJobs(jobs, audit, {
      queue: IngestionQueue.Imports,
      noun: 'image import job',
      cancelAction: 'ingestion.import.cancel',
      view,
    });
  }

  async submit(input: unknown, actor: Actor): Promise<ImageImportJobView> {
    const parsed = InputSchema.safeParse(input);
    if (!parsed.success)
      throw errors.badInput(parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
    const metadata = parsed.data.metadata ?? undefined;
    const payload: ImportImagesPayload = {
      source: parsed.data.source,
      ...(metadata ? { metadata } : {}),
      actor: { principal: actor.principal, ...(actor.requestId ? { requestId: actor.requestId } : {}) },
    };
    const row = await this.queued.submit({
      kind: IngestionJobKind.ImportImages,
      payload: encodeImportImagesPayload(payload),
      actor,
      idempotencyKey: parsed.data.idempotencyKey,
    });
    await this.audit.record({
      actor: actor.principal,
      requestId: actor.requestId,
      action: IngestionJobKind.ImportImages,
      entityType: 'job',
      entityId: row.id,
      after: { source: payload.source, metadata },
    });
    return view(row);
  }

  get(id: string): Promise<ImageImportJobView> {
    return this.queued.get(id);
  }

  cancel(id: string, actor: Actor): Promise<ImageImportJobView> {
    return this.queued.cancel(id, actor);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stripNulls(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined));
}
