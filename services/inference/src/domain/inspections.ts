import { z } from 'zod';
import { CaptureMetadataSchema, ErrorCode, errors, isUuid, VigilError, type CaptureMetadata } from '@vigil/contracts';
import { decodeCursor, encodeCursor, pageSize, type AuditTrail, type JobSystem, type Page } from '@vigil/service-kit';
import { parseSourceUri } from '@vigil/storage';
import {
  encodeInteractiveDetect,
  InferenceJobKind,
  InferenceQueue,
  type DetectPayload,
  type ExpandBatchPayload,
} from '../jobs/payloads';
import type { InspectionEvents } from './events';
import { HostingStatus, type Actor } from './hosting';
import {
  InspectionStatus,
  VERDICTS,
  type BatchSource,
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

/** A stored image as inspection sees it. */
export interface InspectableImage {
  readonly id: string;
  readonly line: string | null;
  readonly station: string | null;
  readonly camera: string | null;
  readonly lot: string | null;
  readonly capturedAt: Date | null;
  readonly width: number;
  readonly height: number;
}

/** What inspection needs of a stored image (the image catalogue). */
export interface ImageLookup {
  get(id: string): Promise<InspectableImage>;
  /** Aligned with `ids`, null where none exists. */
  getMany(ids: readonly string[]): Promise<Array<InspectableImage | null>>;
}

/** How many offending images an error lists. */
const LISTED = 20;

/**
 * Lookout requires an image to have the training images' dimensions. A version trained on one size keeps it;
 * one trained on mixed sizes accepts any.
 */
export function sizeMismatch(
  version: Pick<HostableVersion, 'imageWidth' | 'imageHeight'>,
  image: { readonly width: number; readonly height: number },
): boolean {
  if (version.imageWidth === null || version.imageHeight === null) return false;
  return image.width !== version.imageWidth || image.height !== version.imageHeight;
}

function wrongSize(
  version: HostableVersion,
  images: readonly { readonly id: string; readonly width: number; readonly height: number }[],
): VigilError {
  const expected = { width: version.imageWidth, height: version.imageHeight };
  const first = images[0];
  const what =
    images.length === 1 && first
      ? `image ${first.id} is ${first.width}x${first.height}`
      : `${images.length} image(s) do not have that size`;
  return new VigilError(
    ErrorCode.InvalidImage,
    `model version ${version.version} was trained on ${expected.width}x${expected.height} images and detects only ` +
      `that size; ${what}`,
    {
      expected,
      ...(images.length === 1 && first ? { actual: { width: first.width, height: first.height } } : {}),
      images: images.slice(0, LISTED).map((i) => ({ imageId: i.id, width: i.width, height: i.height })),
      count: images.length,
    },
  );
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
  source: z.string().trim().min(1).max(2048).nullish(),
  metadata: CaptureMetadataSchema.nullish(),
  idempotencyKey: KeySchema.nullish(),
});

/** BAD_USER_INPUT now for a URI that can never be read (the expansion job reads it later). */
function checkedSourceUri(uri: string): string {
  parseSourceUri(uri);
  return uri;
}

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
      if (existing && !lostItsJob(existing)) return this.waitFor(existing);
    }
    const version = await this.hostedVersion(parsed.modelVersionId);
    const image = await this.images.get(parsed.imageId);
    if (sizeMismatch(version, image)) throw wrongSize(version, [image]);
    await this.admit(InferenceQueue.Interactive, 1);
    const { inspection, created } = await this.inspections.create({
      ...recordFields(version, actor),
      imageId: image.id,
      batchId: null,
      metadata: mergeMetadata(image, parsed.metadata ?? undefined),
      idempotencyKey: parsed.idempotencyKey ?? null,
    });
    // A first attempt that crashed between recording and queuing left a record without a job: queue it now.
    if (!created && !lostItsJob(inspection)) return this.waitFor(inspection);
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

  /**
   * Accepts a batch and answers at once: stored images and datasets are checked now (existence, size, queue
   * room), a folder or S3 prefix when the background expand-batch job lists and ingests it. That job creates
   * one inspection per distinct image, each a job on the batch queue.
   */
  async submitBatch(input: unknown, actor: Actor): Promise<InspectionBatch> {
    const parsed = parse(BatchInputSchema, input, 'inspection batch');
    const max = this.config.maxBatchImages;
    if (parsed.idempotencyKey) {
      const existing = await this.inspections.findBatchByKey(parsed.idempotencyKey);
      if (existing) return existing;
    }
    if ((parsed.imageIds ? 1 : 0) + (parsed.datasetId ? 1 : 0) + (parsed.source ? 1 : 0) !== 1) {
      throw errors.badInput('name the images of a batch with exactly one of imageIds, datasetId or source');
    }
    if (parsed.metadata && !parsed.source) {
      throw errors.badInput('metadata applies to the images a source batch ingests; stored images keep their own');
    }
    if (parsed.imageIds && parsed.imageIds.length > max) {
      throw errors.badInput(`a batch holds at most ${max} images; this one names ${parsed.imageIds.length}`, {
        limit: max,
        count: parsed.imageIds.length,
      });
    }
    const version = await this.hostedVersion(parsed.modelVersionId);
    const source = parsed.source
      ? ({
          kind: 'source',
          uri: checkedSourceUri(parsed.source),
          ...(parsed.metadata ? { metadata: parsed.metadata } : {}),
        } as const)
      : await this.storedImages(version, parsed.imageIds ?? null, parsed.datasetId ?? null);
    if (source.kind === 'images') await this.admit(InferenceQueue.Batch, source.imageIds.length);
    const { batch, created } = await this.inspections.createBatch({
      projectId: version.projectId,
      modelVersionId: version.id,
      total: source.kind === 'images' ? source.imageIds.length : 0,
      source,
      idempotencyKey: parsed.idempotencyKey ?? null,
      createdBy: actor.principal.id,
    });
    if (!created) return batch;
    const payload: ExpandBatchPayload = { batchId: batch.id, actor };
    await this.jobs.submit({
      queue: InferenceQueue.Batch,
      kind: InferenceJobKind.ExpandBatch,
      payload,
      createdBy: actor.principal.id,
      idempotencyKey: `batch:${batch.id}`,
    });
    await this.audit.record({
      actor: actor.principal,
      action: 'inspection.batch',
      entityType: 'inspection_batch',
      entityId: batch.id,
      after: {
        modelVersionId: version.id,
        ...(source.kind === 'images'
          ? { total: source.imageIds.length, ...(source.datasetId ? { datasetId: source.datasetId } : {}) }
          : { source: source.uri }),
      },
      ...(actor.requestId ? { requestId: actor.requestId } : {}),
    });
    return batch;
  }

  /** The distinct stored images a batch names, each existing and of the model's size. */
  private async storedImages(
    version: HostableVersion,
    imageIds: readonly string[] | null,
    datasetId: string | null,
  ): Promise<Extract<BatchSource, { kind: 'images' }>> {
    const max = this.config.maxBatchImages;
    let ids: string[];
    if (datasetId) {
      const dataset = isUuid(datasetId) ? await this.hosting.datasetImages(datasetId, max + 1) : null;
      if (!dataset) throw errors.notFound('dataset', datasetId);
      if (dataset.imageIds.length > max) {
        throw errors.badInput(`a batch holds at most ${max} images; the dataset has more`, { limit: max });
      }
      ids = dataset.imageIds;
    } else {
      ids = [...(imageIds ?? [])];
    }
    ids = [...new Set(ids)];
    if (ids.length === 0) throw errors.badInput('the batch names no images');
    const found = await this.images.getMany(ids);
    const missing = ids.filter((_, i) => !found[i]);
    if (missing.length > 0) {
      throw new VigilError(ErrorCode.NotFound, `${missing.length} image(s) of the batch were not found`, {
        entity: 'image',
        missing: missing.slice(0, LISTED),
      });
    }
    const misfits = found.filter(
      (image): image is NonNullable<typeof image> => image !== null && sizeMismatch(version, image),
    );
    if (misfits.length > 0) throw wrongSize(version, misfits);
    return { kind: 'images', imageIds: ids, ...(datasetId ? { datasetId } : {}) };
  }

  /** Refuses work over a queue's configured depth with RESOURCE_EXHAUSTED and a retry-after. */
  async admit(queue: string, count: number): Promise<void> {
    const depth = await this.inspections.queueDepth(queue);
    if (depth + count > this.config.maxQueueDepth) {
      throw new VigilError(
        ErrorCode.ResourceExhausted,
        `the ${queue} queue is full (${depth} waiting, limit ${this.config.maxQueueDepth}); retry after ${this.config.retryAfterSeconds} s`,
        { queue, depth, limit: this.config.maxQueueDepth, retryAfterSeconds: this.config.retryAfterSeconds },
      );
    }
  }

  /**
   * An automatic inspection of a newly ingested image, on the batch queue (never ahead of a line's detection).
   * Keyed by (project, version, image), so a redelivered event records nothing twice; a record left without its
   * job (a crash between the two writes) gets it on the redelivery.
   */
  async autoInspect(version: HostableVersion, imageId: string, actor: Actor): Promise<Inspection> {
    const key = `auto:${version.projectId}:${version.id}:${imageId}`;
    const existing = await this.inspections.findByIdempotencyKey(key);
    if (existing?.jobId) return existing;
    let inspection = existing;
    if (!inspection) {
      await this.admit(InferenceQueue.Batch, 1);
      const image = await this.images.get(imageId);
      inspection = (
        await this.inspections.create({
          ...recordFields(version, actor),
          imageId,
          batchId: null,
          metadata: mergeMetadata(image, undefined),
          idempotencyKey: key,
        })
      ).inspection;
      if (inspection.jobId) return inspection;
    }
    const job = await this.jobs.submit({
      queue: InferenceQueue.Batch,
      kind: InferenceJobKind.AutoDetect,
      payload: encodeInteractiveDetect({
        inspectionId: inspection.id,
        imageId,
        modelVersionId: version.id,
        idempotencyKey: key,
        actor,
      }),
      createdBy: actor.principal.id,
      idempotencyKey: `inspection:${inspection.id}`,
    });
    await this.inspections.setJob(inspection.id, job.id);
    return inspection;
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

  /** Inspections of a version queued or running (what the desired worker count follows). */
  pendingFor(modelVersionId: string): Promise<number> {
    return isUuid(modelVersionId) ? this.inspections.pendingCount(modelVersionId) : Promise.resolve(0);
  }

  queueDepth(queue: string): Promise<number> {
    return this.inspections.queueDepth(queue);
  }

  /** Refuses (never drops) work that would take a queue over its configured depth. */
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
/** Recorded but never queued (a crash between the two steps): a retry with the same key queues it. */
function lostItsJob(inspection: Inspection): boolean {
  return inspection.status === InspectionStatus.Queued && inspection.jobId === null;
}

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

/** What every inspection record of `version` requested by `actor` carries, whichever path records it. */
export function recordFields(
  version: HostableVersion,
  actor: Actor,
): Pick<NewInspection, 'projectId' | 'modelVersionId' | 'modelVersion' | 'artifactSha256' | 'requestedBy'> {
  return {
    projectId: version.projectId,
    modelVersionId: version.id,
    modelVersion: version.version,
    artifactSha256: version.artifactSha256 ?? '',
    requestedBy: actor.principal.id,
  };
}
