import path from 'node:path';
import {
  describeError,
  ErrorCode,
  errors,
  isVigilError,
  type CaptureMetadata,
  type VigilError,
} from '@vigil/contracts';
import { listSourceImages, type SourceLister } from '@vigil/images';
import type { JobContext, JobSystem } from '@vigil/service-kit';
import { parseSourceUri, type SourceLocation } from '@vigil/storage';
import { encodeBatchDetect, InferenceJobKind, InferenceQueue, type ExpandBatchPayload } from '../jobs/payloads';
import type { ImageIngest } from '../http/router';
import { HostingStatus, type Actor } from './hosting';
import { mergeMetadata, recordFields, sizeMismatch, type ImageLookup } from './inspections';
import type { HostableVersion, HostingRepository, InspectionBatch, InspectionRepository, NewInspection } from './types';

/** Reads the folders and S3 prefixes a batch may name (SourceReader in @vigil/storage). */
export interface BatchSources extends SourceLister {
  read(location: SourceLocation, maxBytes: number): Promise<Buffer>;
}

export interface BatchExpansionConfig {
  readonly maxBatchImages: number;
  readonly maxImageBytes: number;
  readonly allowLocalFiles: boolean;
}

export interface BatchExpansionDeps {
  readonly inspections: InspectionRepository;
  readonly hosting: HostingRepository;
  readonly images: ImageLookup & ImageIngest;
  /** Absent: batches over a folder or S3 prefix are refused. */
  readonly sources: BatchSources | null;
  readonly jobs: JobSystem;
  /** Refuses work over the batch queue's depth with RESOURCE_EXHAUSTED (the job is then retried later). */
  readonly admit: (queue: string, count: number) => Promise<void>;
  readonly config: BatchExpansionConfig;
  readonly now?: () => Date;
}

/** Inspections created and queued per round (and per progress report). */
const SUBMIT_CHUNK = 200;

const NO_METADATA = { line: null, station: null, camera: null, lot: null, capturedAt: null } as const;

/**
 * The background half of submitInspectionBatch: creates one inspection per image (ingesting the images of a
 * folder or S3 prefix first) and queues each on the batch queue. Everything it writes is keyed (content-addressed
 * images, `batch:<batch>:<image>` inspections, `inspection:<id>` jobs), so a job redelivered after a crash
 * resumes where the first attempt stopped and never records an image twice.
 */
export class BatchExpander {
  private readonly now: () => Date;

  constructor(private readonly deps: BatchExpansionDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async run(payload: ExpandBatchPayload, context: Pick<JobContext, 'progress' | 'signal'>): Promise<unknown> {
    const batch = await this.deps.inspections.findBatch(payload.batchId);
    if (!batch || batch.status !== 'EXPANDING') return { batchId: payload.batchId, state: 'already expanded' };
    const version = await this.deps.hosting.findVersion(batch.modelVersionId);
    if (!version || version.status !== HostingStatus.Hosted) {
      return this.fail(
        batch,
        errors.conflict(`model version ${version?.version ?? batch.modelVersionId} is not hosted`),
      );
    }
    try {
      const { imageIds, skipped } = await this.resolveImages(batch, payload.actor, context);
      await this.deps.inspections.setBatchTotal(batch.id, imageIds.length, skipped);
      await this.queueInspections(batch, version, imageIds, payload.actor, context);
    } catch (error) {
      // A source that cannot be read or holds too many images fails the batch; anything else (the database, a
      // full queue) is retried by the job system.
      if (isVigilError(error) && isFinal(error.code)) return this.fail(batch, error);
      throw error;
    }
    const finished = await this.deps.inspections.finishExpansion(batch.id, this.now());
    return { batchId: batch.id, state: finished?.status ?? 'already expanded', total: finished?.total ?? null };
  }

  private async fail(batch: InspectionBatch, error: VigilError): Promise<unknown> {
    const { code, message } = describeError(error);
    await this.deps.inspections.failBatch(batch.id, { code, message }, this.now());
    return { batchId: batch.id, state: 'FAILED', code };
  }

  private async resolveImages(
    batch: InspectionBatch,
    actor: Actor,
    context: Pick<JobContext, 'progress' | 'signal'>,
  ): Promise<{ imageIds: string[]; skipped: number }> {
    const source = batch.source;
    if (source.kind === 'images') return { imageIds: [...source.imageIds], skipped: 0 };
    const sources = this.deps.sources;
    if (!sources) throw errors.badInput('this service cannot read folders or S3 prefixes');
    const root = parseSourceUri(source.uri);
    if (root.kind === 'file' && !this.deps.config.allowLocalFiles) {
      throw errors.forbidden('this server does not read local folders; use an s3:// prefix');
    }
    context.progress(0, undefined, 'listing images');
    const listed = await listSourceImages(sources, root, {
      signal: context.signal,
      onAbort: () => errors.conflict('the batch was cancelled'),
    });
    const max = this.deps.config.maxBatchImages;
    if (listed.images.length > max) {
      throw errors.badInput(`a batch holds at most ${max} images; ${source.uri} has ${listed.images.length}`, {
        limit: max,
        count: listed.images.length,
      });
    }
    if (listed.images.length === 0) throw errors.badInput(`no images found in ${source.uri}`, { source: source.uri });
    const imageIds: string[] = [];
    let skipped = listed.skipped;
    for (const [index, item] of listed.images.entries()) {
      try {
        const bytes = await sources.read(item.location, this.deps.config.maxImageBytes);
        const { image } = await this.deps.images.ingest({
          bytes,
          originalName: path.posix.basename(item.relativePath),
          ...(source.metadata ? { metadata: source.metadata } : {}),
          actor: actor.principal,
        });
        imageIds.push(image.id);
      } catch (error) {
        // Not an image, corrupt, too large: that file is skipped, the others are inspected.
        if (!isVigilError(error) || !isFinal(error.code)) throw error;
        skipped += 1;
      }
      context.progress(index + 1, listed.images.length, 'ingesting images');
    }
    return { imageIds: [...new Set(imageIds)], skipped };
  }

  private async queueInspections(
    batch: InspectionBatch,
    version: HostableVersion,
    imageIds: readonly string[],
    actor: Actor,
    context: Pick<JobContext, 'progress' | 'signal'>,
  ): Promise<void> {
    if (batch.source.kind === 'source') await this.deps.admit(InferenceQueue.Batch, imageIds.length);
    const metadataOverride: CaptureMetadata | undefined =
      batch.source.kind === 'source' ? batch.source.metadata : undefined;
    for (let start = 0; start < imageIds.length; start += SUBMIT_CHUNK) {
      const chunk = imageIds.slice(start, start + SUBMIT_CHUNK);
      const found = await this.deps.images.getMany(chunk);
      const records = await this.deps.inspections.createMany(
        chunk.map((imageId, i): NewInspection => {
          const image = found[i] ?? null;
          return {
            ...recordFields(version, actor),
            imageId,
            batchId: batch.id,
            metadata: image ? mergeMetadata(image, metadataOverride) : NO_METADATA,
            idempotencyKey: `batch:${batch.id}:${imageId}`,
          };
        }),
      );
      for (const record of records) {
        if (record.status !== 'QUEUED') continue;
        const image = found[chunk.indexOf(record.imageId)] ?? null;
        if (!image || sizeMismatch(version, image)) {
          // Gone meanwhile, or (from a folder) of another size than the model's: a failed record says why.
          const reason = image
            ? `the image is ${image.width}x${image.height}; model version ${version.version} detects only ${version.imageWidth}x${version.imageHeight} images`
            : `image ${record.imageId} no longer exists`;
          await this.deps.inspections.fail(
            record.id,
            { code: image ? ErrorCode.InvalidImage : ErrorCode.NotFound, message: reason },
            this.now(),
          );
          continue;
        }
        if (record.jobId) continue;
        const job = await this.deps.jobs.submit({
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
        await this.deps.inspections.setJob(record.id, job.id);
      }
      context.progress(Math.min(start + SUBMIT_CHUNK, imageIds.length), imageIds.length, 'queuing inspections');
    }
  }
}

/** Codes that another attempt cannot fix. */
function isFinal(code: string): boolean {
  return (
    code === ErrorCode.BadUserInput ||
    code === ErrorCode.NotFound ||
    code === ErrorCode.Forbidden ||
    code === ErrorCode.InvalidImage ||
    code === ErrorCode.ImageTooLarge ||
    code === ErrorCode.PayloadTooLarge ||
    code === ErrorCode.UnsupportedMediaType
  );
}
