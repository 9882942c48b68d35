import type { Kysely } from 'kysely';
import type { Router } from 'express';
import type { Database } from '@vigil/db';
import type { AuditTrail, JobSystem, Logger, SubgraphDefinition } from '@vigil/service-kit';
import type { ObjectStore } from '@vigil/storage';
import { typeDefs } from './graphql/type-defs';
import { inferenceResolvers } from './graphql/resolvers';
import { Detector, type ImageBytes } from './domain/detector';
import { lazyInferenceEngine, type DetectionModel, type InferenceEngine } from './domain/engine';
import { InspectionEvents } from './domain/events';
import { HostingService } from './domain/hosting';
import { InspectionService, type ImageLookup } from './domain/inspections';
import { ModelCache } from './domain/model-cache';
import { inferenceRouter, type ImageIngest } from './http/router';
import { InferenceMetrics } from './metrics';
import { KyselyHostingRepository } from './repositories/hosting';
import { KyselyInspectionRepository } from './repositories/inspections';
import {
  decodeBatchDetect,
  decodeInteractiveDetect,
  HostModelPayloadSchema,
  InferenceJobKind,
  InferenceQueue,
} from './jobs/payloads';

export interface InferenceConfig {
  readonly maxQueueDepth: number;
  readonly retryAfterSeconds: number;
  readonly modelCacheSize: number;
  readonly threads: number;
  readonly detectTimeoutMs: number;
  readonly maxUploadBytes: number;
  /** Most images one batch may name (default 20,000). */
  readonly maxBatchImages?: number;
}

export interface InferenceDeps {
  readonly db: Kysely<Database>;
  readonly store: ObjectStore;
  /** The image catalogue (shared library, same database and store). */
  readonly images: ImageBytes & ImageLookup & ImageIngest;
  readonly jobs: JobSystem;
  readonly audit: AuditTrail;
  readonly log: Logger;
  readonly config: InferenceConfig;
  /** The engine; default: @vigil/engine, loaded on the first model. */
  readonly engine?: () => Promise<InferenceEngine>;
}

export interface InferenceModule {
  readonly subgraph: SubgraphDefinition;
  /** `POST /detect`, `GET /inspections/:id/heatmap|mask`; mount behind gateway trust. */
  readonly router: Router;
  readonly inspections: InspectionService;
  readonly hosting: HostingService;
  readonly events: InspectionEvents;
  readonly metrics: InferenceMetrics;
  registerWorkers(): void;
  /** Releases the loaded models (after the job runner has stopped). */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BATCH_IMAGES = 20_000;

export function createInferenceService(deps: InferenceDeps): InferenceModule {
  const log = deps.log.child({ component: 'inference' });
  const inspectionRepo = new KyselyInspectionRepository(deps.db);
  const hostingRepo = new KyselyHostingRepository(deps.db);
  const events = new InspectionEvents(log);
  const metrics = new InferenceMetrics(async () => ({
    [InferenceQueue.Interactive]: await inspectionRepo.queueDepth(InferenceQueue.Interactive),
    [InferenceQueue.Batch]: await inspectionRepo.queueDepth(InferenceQueue.Batch),
  }));
  const cache = new ModelCache<DetectionModel>(deps.config.modelCacheSize, metrics.cacheEvents);
  const detector = new Detector({
    inspections: inspectionRepo,
    hosting: hostingRepo,
    images: deps.images,
    store: deps.store,
    cache,
    engine: deps.engine ?? lazyInferenceEngine(),
    events,
    log,
    threads: deps.config.threads,
    onInspected: (queue, outcome, seconds) => metrics.inspected(queue, outcome, seconds),
  });
  const hosting = new HostingService(hostingRepo, deps.jobs, deps.audit, detector);
  const inspections = new InspectionService(inspectionRepo, hostingRepo, deps.images, deps.jobs, deps.audit, events, {
    maxQueueDepth: deps.config.maxQueueDepth,
    retryAfterSeconds: deps.config.retryAfterSeconds,
    detectTimeoutMs: deps.config.detectTimeoutMs,
    maxBatchImages: deps.config.maxBatchImages ?? DEFAULT_MAX_BATCH_IMAGES,
  });
  return {
    subgraph: { name: 'inference', typeDefs, resolvers: inferenceResolvers({ inspections, hosting }) },
    router: inferenceRouter({
      inspections,
      catalog: deps.images,
      store: deps.store,
      maxUploadBytes: deps.config.maxUploadBytes,
      log,
    }),
    inspections,
    hosting,
    events,
    metrics,
    registerWorkers: () => {
      deps.jobs.register(InferenceQueue.Interactive, InferenceJobKind.InteractiveDetect, (payload) =>
        detector.run(decodeInteractiveDetect(payload), InferenceQueue.Interactive),
      );
      deps.jobs.register(InferenceQueue.Interactive, InferenceJobKind.HostModel, (payload) =>
        hosting.runHostJob(HostModelPayloadSchema.parse(payload)),
      );
      deps.jobs.register(InferenceQueue.Batch, InferenceJobKind.BatchDetect, (payload) =>
        detector.run(decodeBatchDetect(payload), InferenceQueue.Batch),
      );
    },
    close: () => cache.clear(),
  };
}
