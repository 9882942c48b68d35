import { z } from 'zod';
import { CaptureMetadataSchema, errors, isUuid } from '@vigil/contracts';
import type { JobRow } from '@vigil/db';
import { toJobView, type AuditTrail, type JobView, type RequestContext } from '@vigil/service-kit';
import type { jobsV1 } from '@vigil/proto';
import {
  encodeImportImagesPayload,
  IngestionJobKind,
  IngestionQueue,
  type ImageImportSummary,
  type ImportImagesPayload,
} from './payloads';

/** The slice of the job system this service uses (see @vigil/queue). */
export interface JobPort {
  submit(input: {
    queue: string;
    kind: string;
    payload: unknown;
    createdBy: string;
    idempotencyKey?: string;
  }): Promise<JobRow>;
  get(id: string): Promise<JobRow | undefined>;
  cancel(id: string): Promise<JobRow | undefined>;
}

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
  constructor(
    private readonly jobs: JobPort,
    private readonly audit: AuditTrail,
  ) {}

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
    const row = await this.jobs.submit({
      queue: IngestionQueue.Imports,
      kind: IngestionJobKind.ImportImages,
      payload: encodeImportImagesPayload(payload),
      createdBy: actor.principal.name,
      ...(parsed.data.idempotencyKey ? { idempotencyKey: `${actor.principal.id}:${parsed.data.idempotencyKey}` } : {}),
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

  async get(id: string): Promise<ImageImportJobView> {
    const row = isUuid(id) ? await this.jobs.get(id) : undefined;
    if (!row || row.queue !== IngestionQueue.Imports) throw errors.notFound('image import job', id);
    return view(row);
  }

  async cancel(id: string, actor: Actor): Promise<ImageImportJobView> {
    const before = await this.get(id);
    const row = await this.jobs.cancel(id);
    if (!row) throw errors.notFound('image import job', id);
    // Both sides of the audit row in the same (view) form, not one upper- and one lower-case.
    const after = view(row);
    await this.audit.record({
      actor: actor.principal,
      requestId: actor.requestId,
      action: 'ingestion.import.cancel',
      entityType: 'job',
      entityId: id,
      before: { status: before.status },
      after: { status: after.status },
    });
    return after;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stripNulls(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null && v !== undefined));
}
