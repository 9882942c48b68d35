import { z } from 'zod';
import { CaptureMetadataSchema, ErrorCode, errors, isUuid, VigilError, type CaptureMetadata } from '@vigil/contracts';
import { decodeCursor, encodeCursor, pageSize, type AuditTrail, type JobSystem, type Page } from '@vigil/service-kit';
import {
  encodeBatchDetect,
  encodeInteractiveDetect,
  InferenceJobKind,
  InferenceQueue,
  type DetectPayload,
} from '../jobs/payloads';
import type { InspectionEvents } from './events';
import { HostingStatus, type Actor } from './hosting';
import {
  InspectionStatus,
  VERDICTS,
  type HostableVersion,
  type HostingRepository,
  type Inspection,
  type InspectionBatch,
  type InspectionFilter,
  type InspectionMetadata,
  type InspectionOverride,
  type InspectionRepository,
  type NewInspection,
  type Verdict,
} from './types';

/** What inspection needs of a stored image (the image catalogue). */
export interface ImageLookup {
  get(id: string): Promise<{
    readonly id: string;
    readonly line: string | null;
    readonly station: string | null;
    readonly camera: string | null;
    readonly lot: string | null;
    readonly capturedAt: Date | null;
  }>;
  getMany(ids: readonly string[]): Promise<Array<{ readonly id: string } | null>>;
}

export interface InspectionConfig {
  /** Jobs queued or running per detection queue above which new work is refused. */
  readonly maxQueueDepth: number;
  /** What a refused caller is told to wait. */
  readonly retryAfterSeconds: number;
  /** How long detectAnomalies waits for its verdict before answering with the pending record. */
  readonly detectTimeoutMs: number;
  /** Most images one submitInspectionBatch may name. */
  readonly maxBatchImages: number;
  /** How often a waiter re-reads the record (for workers in other processes). */
  readonly pollIntervalMs?: number;
}

const KeySchema = z.string().trim().min(1).max(200);

const DetectInputSchema = z.object({
  modelVersionId: z.string(),
  imageId: z.string(),
  metadata: CaptureMetadataSchema.nullish(),
  idempotencyKey: KeySchema.nullish(),
});

const BatchInputSchema = z.object({
  modelVersionId: z.string(),
  imageIds: z.array(z.string()).nullish(),
  datasetId: z.string().nullish(),
  idempotencyKey: KeySchema.nullish(),
});

const FilterSchema = z.object({
  projectId: z.string().nullish(),
  modelVersionId: z.string().nullish(),
  batchId: z.string().nullish(),
  line: z.string().nullish(),
  station: z.string().nullish(),
  lot: z.string().nullish(),
  verdict: z.enum(['normal', 'anomaly']).nullish(),
  status: z.enum(['QUEUED', 'RUNNING', 'DONE', 'FAILED']).nullish(),
  since: z.coerce.date().nullish(),
  until: z.coerce.date().nullish(),
});

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw errors.badInput(
      `invalid ${what}: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return result.data;
}

/** Detection requests and the records they leave. */
export class InspectionService {
  constructor(
    private readonly inspections: InspectionRepository,
    private readonly hosting: HostingRepository,
    private readonly images: ImageLookup,
    private readonly jobs: JobSystem,
    private readonly audit: AuditTrail,
    private readonly events: InspectionEvents,
    private readonly config: InspectionConfig,
  ) {}

  /**
   * Records the request, queues it on the interactive queue (never behind batch work) and waits for the
   * verdict. A retried request with the same idempotency key returns the first record.
   */
  async detect(input: unknown, actor: Actor): Promise<Inspection> {
    const parsed = parse(DetectInputSchema, input, 'detection');
    if (parsed.idempotencyKey) {
      const existing = await this.inspections.findByIdempotencyKey(parsed.idempotencyKey);
      if (existing) return this.waitFor(existing);
    }
    const version = await this.hostedVersion(parsed.modelVersionId);
    const image = await this.images.get(parsed.imageId);
    await this.admit(InferenceQueue.Interactive, 1);
    const { inspection, created } = await this.inspections.create({
      ...this.recordFields(version, actor),
      imageId: image.id,
      batchId: null,
      metadata: mergeMetadata(image, parsed.metadata ?? undefined),
      idempotencyKey: parsed.idempotencyKey ?? null,
    });
    if (!created) return this.waitFor(inspection);
    const payload: DetectPayload = {
      inspectionId: inspection.id,
      imageId: inspection.imageId,
      modelVersionId: version.id,
      idempotencyKey: parsed.idempotencyKey ?? '',
      ...(parsed.metadata ? { metadata: parsed.metadata } : {}),
      actor,
    };
    const job = await this.jobs.submit({
      queue: InferenceQueue.Interactive,
      kind: InferenceJobKind.InteractiveDetect,
      payload: encodeInteractiveDetect(payload),
      createdBy: actor.principal.id,
      idempotencyKey: `inspection:${inspection.id}`,
    });
    await this.inspections.setJob(inspection.id, job.id);
    await this.audit.record({
      actor: actor.principal,
      action: 'inspection.detect',
      entityType: 'inspection',
      entityId: inspection.id,
      after: { modelVersionId: version.id, imageId: image.id },
      ...(actor.requestId ? { requestId: actor.requestId } : {}),
    });
    return this.waitFor(inspection);
  }

  /** One inspection per distinct image, each a job on the batch queue; answers at once with the batch. */
  async submitBatch(input: unknown, actor: Actor): Promise<InspectionBatch> {
    const parsed = parse(BatchInputSchema, input, 'inspection batch');
    const max = this.config.maxBatchImages;
    if (parsed.idempotencyKey) {
      const existing = await this.inspections.findBatchByKey(parsed.idempotencyKey);
      if (existing) return existing;
    }
    if ((parsed.imageIds ? 1 : 0) + (parsed.datasetId ? 1 : 0) !== 1) {
      throw errors.badInput('name the images of a batch with exactly one of imageIds or datasetId');
    }
    if (parsed.imageIds && parsed.imageIds.length > max) {
      throw errors.badInput(`a batch holds at most ${max} images; this one names ${parsed.imageIds.length}`, {
        limit: max,
        count: parsed.imageIds.length,
      });
    }
    const version = await this.hostedVersion(parsed.modelVersionId);
    let imageIds: string[];
    if (parsed.datasetId) {
      const dataset = isUuid(parsed.datasetId) ? await this.hosting.datasetImages(parsed.datasetId, max + 1) : null;
      if (!dataset) throw errors.notFound('dataset', parsed.datasetId);
      if (dataset.imageIds.length > max) {
        throw errors.badInput(`a batch holds at most ${max} images; the dataset has more`, { limit: max });
      }
      imageIds = dataset.imageIds;
    } else {
      imageIds = parsed.imageIds ?? [];
    }
    imageIds = [...new Set(imageIds)];
    if (imageIds.length === 0) throw errors.badInput('the batch names no images');
    const found = await this.images.getMany(imageIds);
    const missing = imageIds.filter((_, i) => !found[i]);
    if (missing.length > 0) {
      throw new VigilError(ErrorCode.NotFound, `${missing.length} image(s) of the batch were not found`, {
        entity: 'image',
        missing: missing.slice(0, 20),
      });
    }
    await this.admit(InferenceQueue.Batch, imageIds.length);
    const { batch, created } = await this.inspections.createBatch({
      projectId: version.projectId,
      modelVersionId: version.id,
      total: imageIds.length,
      idempotencyKey: parsed.idempotencyKey ?? null,
      createdBy: actor.principal.id,
    });
    if (!created) return batch;
    const records = await this.inspections.createMany(
      await Promise.all(
        imageIds.map(async (imageId): Promise<NewInspection> => ({
          ...this.recordFields(version, actor),
          imageId,
          batchId: batch.id,
          metadata: mergeMetadata(await this.images.get(imageId), undefined),
          idempotencyKey: `batch:${batch.id}:${imageId}`,
        })),
      ),
    );
    for (const record of records) {
      const job = await this.jobs.submit({
        queue: InferenceQueue.Batch,
        kind: InferenceJobKind.BatchDetect,
        payload: encodeBatchDetect({
          inspectionId: record.id,
          imageId: record.imageId,
          modelVersionId: version.id,
          idempotencyKey: record.idempotencyKey ?? '',
          batchId: batch.id,
          actor,
        }),
        createdBy: actor.principal.id,
        idempotencyKey: `inspection:${record.id}`,
      });
      await this.inspections.setJob(record.id, job.id);
    }
    await this.audit.record({
      actor: actor.principal,
      action: 'inspection.batch',
      entityType: 'inspection_batch',
      entityId: batch.id,
      after: { modelVersionId: version.id, total: batch.total },
      ...(actor.requestId ? { requestId: actor.requestId } : {}),
    });
    return batch;
  }

  async get(id: string): Promise<Inspection> {
    const inspection = isUuid(id) ? await this.inspections.findById(id) : null;
    if (!inspection) throw errors.notFound('inspection', id);
    return inspection;
  }

  async batch(id: string): Promise<InspectionBatch> {
    const batch = isUuid(id) ? await this.inspections.findBatch(id) : null;
    if (!batch) throw errors.notFound('inspection batch', id);
    return batch;
  }

  /** Newest first, keyset-paginated. */
  async list(filterInput: unknown, args: { first?: number | null; after?: string | null }): Promise<Page<Inspection>> {
    const raw = parse(FilterSchema, filterInput ?? {}, 'inspection filter');
    for (const key of ['projectId', 'modelVersionId', 'batchId'] as const) {
      const value = raw[key];
      if (value && !isUuid(value)) return { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } };
    }
    const filter: InspectionFilter = Object.fromEntries(
      Object.entries(raw).filter(([, value]) => value !== null && value !== undefined),
    ) as InspectionFilter;
    const limit = pageSize(args.first);
    const rows = await this.inspections.list(filter, limit + 1, decodeCursor(args.after));
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      nodes: page,
      pageInfo: {
        hasNextPage: rows.length > limit,
        endCursor: last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
      },
    };
  }

  /** Adds an operator's verdict; the model's verdict stays on the record. */
  async override(id: string, verdictInput: string, reasonInput: string, actor: Actor): Promise<Inspection> {
    const inspection = await this.get(id);
    const verdict = verdictInput as Verdict;
    if (!VERDICTS.includes(verdict)) throw errors.badInput('verdict must be normal or anomaly');
    const reason = reasonInput.trim();
    if (reason.length < 1 || reason.length > 2000) throw errors.badInput('give a reason of 1 to 2000 characters');
    if (inspection.status !== InspectionStatus.Done) {
      throw errors.conflict(`inspection ${id} has no verdict to override (status ${inspection.status})`);
    }
    const before = await this.effectiveVerdict(inspection);
    await this.inspections.addOverride({
      inspectionId: id,
      verdict,
      reason,
      actorId: actor.principal.id,
      actorName: actor.principal.name,
    });
    await this.audit.record({
      actor: actor.principal,
      action: 'inspection.override',
      entityType: 'inspection',
      entityId: id,
      before: { effectiveVerdict: before },
      after: { effectiveVerdict: verdict, reason },
      ...(actor.requestId ? { requestId: actor.requestId } : {}),
    });
    return inspection;
  }

  overrides(inspection: Inspection): Promise<InspectionOverride[]> {
    return this.inspections.overridesOf(inspection.id);
  }

  /** The latest override's verdict, else the model's. */
  async effectiveVerdict(inspection: Inspection): Promise<Verdict | null> {
    const overrides = await this.inspections.overridesOf(inspection.id);
    return overrides.at(-1)?.verdict ?? inspection.verdict;
  }

  /** The checks detect() makes before recording, for callers that do work first (storing an upload). */
  async checkDetectable(modelVersionId: string): Promise<void> {
    await this.hostedVersion(modelVersionId);
    await this.admit(InferenceQueue.Interactive, 1);
  }

  queueDepth(queue: string): Promise<number> {
    return this.inspections.queueDepth(queue);
  }

  /** Refuses (never drops) work that would take a queue over its configured depth. */
  private async admit(queue: string, count: number): Promise<void> {
    const depth = await this.inspections.queueDepth(queue);
    if (depth + count > this.config.maxQueueDepth) {
      throw new VigilError(
        ErrorCode.ResourceExhausted,
        `the ${queue} queue is full (${depth} waiting, limit ${this.config.maxQueueDepth}); retry after ${this.config.retryAfterSeconds} s`,
        { queue, depth, limit: this.config.maxQueueDepth, retryAfterSeconds: this.config.retryAfterSeconds },
      );
    }
  }

  private async hostedVersion(id: string): Promise<HostableVersion> {
    const version = isUuid(id) ? await this.hosting.findVersion(id) : null;
    if (!version) throw errors.notFound('model version', id);
    if (version.status !== HostingStatus.Hosted || !version.artifactSha256) {
      throw errors.conflict(`model version ${version.version} is not hosted (status ${version.status})`, {
        modelVersionId: id,
        status: version.status,
      });
    }
    return version;
  }

  private recordFields(version: HostableVersion, actor: Actor) {
    return {
      projectId: version.projectId,
      modelVersionId: version.id,
      modelVersion: version.version,
      artifactSha256: version.artifactSha256 ?? '',
      requestedBy: actor.principal.id,
    };
  }

  /** The record once finished (an in-process event, or a re-read for workers elsewhere), or as it is at the timeout. */
  private async waitFor(inspection: Inspection): Promise<Inspection> {
    if (isFinished(inspection)) return inspection;
    const interval = this.config.pollIntervalMs ?? 250;
    const deadline = Date.now() + this.config.detectTimeoutMs;
    let wake: () => void = () => undefined;
    const unsubscribe = this.events.subscribe((_event, finished) => {
      if (finished.id === inspection.id) wake();
    });
    try {
      for (;;) {
        const current = await this.inspections.findById(inspection.id);
        if (!current || isFinished(current) || Date.now() >= deadline) return current ?? inspection;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(interval, Math.max(1, deadline - Date.now())));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      unsubscribe();
    }
  }
}

function isFinished(inspection: Inspection): boolean {
  return inspection.status === InspectionStatus.Done || inspection.status === InspectionStatus.Failed;
}

/** Given metadata wins field by field; the rest comes from the image's capture metadata. */
export function mergeMetadata(
  image: Pick<InspectionMetadata, 'line' | 'station' | 'camera' | 'lot' | 'capturedAt'>,
  given: CaptureMetadata | undefined,
): InspectionMetadata {
  return {
    line: given?.line ?? image.line,
    station: given?.station ?? image.station,
    camera: given?.camera ?? image.camera,
    lot: given?.lot ?? image.lot,
    capturedAt: given?.capturedAt ?? image.capturedAt,
  };
}
