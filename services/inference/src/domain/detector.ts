import { describeError, ErrorCode, isVigilError, VigilError } from '@vigil/contracts';
import type { Logger } from '@vigil/service-kit';
import { putContentAddressed, type ObjectStore } from '@vigil/storage';
import type { InspectionEvents } from './events';
import { engineReadable, type DetectionModel, type InferenceEngine } from './engine';
import { HostingStatus, type ModelHost } from './hosting';
import type { ModelCache } from './model-cache';
import type { HostableVersion, Inspection, InspectionRepository } from './types';
import type { DetectPayload } from '../jobs/payloads';

/** Object-store namespaces of the pictures a detection produces (content-addressed PNGs). */
export const HEATMAP_NAMESPACE = 'heatmaps';
export const MASK_NAMESPACE = 'masks';

export interface ImageBytes {
  readBytes(id: string): Promise<Buffer>;
}

export interface DetectorDeps {
  readonly inspections: InspectionRepository;
  readonly images: ImageBytes;
  readonly store: ObjectStore;
  readonly cache: ModelCache<DetectionModel>;
  readonly engine: () => Promise<InferenceEngine>;
  readonly events: InspectionEvents;
  readonly log: Logger;
  readonly threads: number;
  readonly onInspected?: (queue: string, outcome: 'done' | 'failed', seconds: number) => void;
  readonly now?: () => Date;
}

/**
 * Runs one detection job: fills in its inspection record (DONE with the verdict, or FAILED with the reason).
 * Whatever goes wrong with one image fails that inspection only; the job itself succeeds, so a poisoned image
 * is never retried. A redelivered job whose inspection already finished does nothing.
 */
export class Detector implements ModelHost {
  private readonly now: () => Date;

  constructor(private readonly deps: DetectorDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  async load(version: HostableVersion): Promise<void> {
    await this.deps.cache.warm(this.digestOf(version), () => this.loadModel(version));
  }

  unload(artifactSha256: string): Promise<void> {
    return this.deps.cache.evict(artifactSha256);
  }

  async run(payload: DetectPayload, queue: string, jobId?: string): Promise<{ inspectionId: string; status: string }> {
    const started = this.now();
    // One statement claims the inspection and reads its version's status, fresh for every detection (never
    // cached): a version stopped before this point, by any process, runs nothing more.
    const claimed = await this.deps.inspections.markRunning(payload.inspectionId, started, jobId);
    if (!claimed) return { inspectionId: payload.inspectionId, status: 'already finished' };
    const running = claimed.inspection;
    let finished: Inspection | null;
    try {
      finished = await this.detect(running, claimed.version, started);
    } catch (error) {
      const described = describeError(error);
      if (!isVigilError(error)) this.deps.log.error({ err: error, inspectionId: running.id }, 'detection failed');
      const code = isVigilError(error) ? described.code : ErrorCode.Internal;
      const message = isVigilError(error) ? described.message : 'the detection failed unexpectedly';
      finished = await this.deps.inspections.fail(running.id, { code, message }, this.now());
    }
    if (finished) {
      const seconds = ((finished.finishedAt ?? this.now()).getTime() - finished.createdAt.getTime()) / 1000;
      this.deps.onInspected?.(queue, finished.status === 'DONE' ? 'done' : 'failed', seconds);
      this.deps.events.publish(finished);
    }
    return { inspectionId: payload.inspectionId, status: finished?.status ?? 'already finished' };
  }

  private async detect(
    inspection: Inspection,
    version: HostableVersion | null,
    started: Date,
  ): Promise<Inspection | null> {
    if (!version || version.status !== HostingStatus.Hosted) {
      // Stopped or deleted meanwhile, perhaps through another process: this process drops the model too.
      if (inspection.artifactSha256 && version?.status !== HostingStatus.StartingHosting) {
        await this.deps.cache.evict(inspection.artifactSha256);
      }
      return this.deps.inspections.fail(
        inspection.id,
        {
          code: ErrorCode.Conflict,
          message: `model version ${inspection.modelVersion} is not hosted`,
        },
        this.now(),
      );
    }
    const readStart = performance.now();
    const bytes = await engineReadable(await this.deps.images.readBytes(inspection.imageId));
    const decodeMs = performance.now() - readStart;
    return this.deps.cache.use(
      this.digestOf(version),
      () => this.loadModel(version),
      async (model) => {
        const inferStart = performance.now();
        let result: Awaited<ReturnType<DetectionModel['detect']>>;
        try {
          result = await model.detect(bytes, { heatmap: true, segmentation: true });
        } catch (error) {
          if (isVigilError(error)) throw error;
          // The decoder or the network choked on this image: its own inspection fails, nothing else.
          throw new VigilError(
            ErrorCode.InvalidImage,
            `the image could not be analysed: ${describeError(error).message}`,
          );
        }
        const inferenceMs = performance.now() - inferStart;
        // Both pictures at once: their object-store calls overlap instead of adding up. The existence check
        // inside putContentAddressed stays: on local disk a head is ~0.1 ms but a put (fsync) 2-15 ms, and a
        // repeated image yields the same pictures, so skipping it would rewrite them every time.
        const [heatmap, mask] = await Promise.all([
          result.heatmap
            ? putContentAddressed(this.deps.store, result.heatmap, {
                namespace: HEATMAP_NAMESPACE,
                contentType: 'image/png',
              })
            : null,
          result.segmentation
            ? putContentAddressed(this.deps.store, result.segmentation.mask, {
                namespace: MASK_NAMESPACE,
                contentType: 'image/png',
              })
            : null,
        ]);
        const finishedAt = this.now();
        return this.deps.inspections.complete(
          inspection.id,
          {
            verdict: result.isAnomalous ? 'anomaly' : 'normal',
            score: result.score,
            rawScore: result.rawScore,
            threshold: result.threshold,
            confidence: result.confidence,
            heatmapKey: heatmap?.objectKey ?? null,
            maskKey: mask?.objectKey ?? null,
            anomalies: result.segmentation ? [...result.segmentation.anomalies] : null,
            timings: {
              queueWaitMs: Math.max(0, started.getTime() - inspection.createdAt.getTime()),
              decodeMs: round(decodeMs),
              inferenceMs: round(inferenceMs),
              totalMs: Math.max(0, finishedAt.getTime() - inspection.createdAt.getTime()),
            },
          },
          finishedAt,
        );
      },
    );
  }

  private digestOf(version: HostableVersion): string {
    if (!version.artifactSha256 || !version.artifactKey) {
      throw new Error(`model version ${version.version} has no artifact`);
    }
    return version.artifactSha256;
  }

  private async loadModel(version: HostableVersion): Promise<DetectionModel> {
    if (!version.artifactKey) throw new Error(`model version ${version.version} has no artifact`);
    const artifact = await this.deps.store.getBuffer(version.artifactKey);
    const engine = await this.deps.engine();
    return engine.loadModel(artifact, { threads: this.deps.threads });
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
