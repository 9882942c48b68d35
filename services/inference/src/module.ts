import type { Kysely } from 'kysely';
import type { Router } from 'express';
import type { Database } from '@vigil/db';
import { eventsV1, EVENTS_QUEUE } from '@vigil/proto';
import type { AuditTrail, JobSystem, Logger, PlatformEnvironment, SubgraphDefinition } from '@vigil/service-kit';
import type { ObjectStore } from '@vigil/storage';
import { typeDefs } from './graphql/type-defs';
import { inferenceResolvers } from './graphql/resolvers';
import { Detector, type ImageBytes } from './domain/detector';
import { lazyInferenceEngine, type DetectionModel, type InferenceEngine } from './domain/engine';
import { AutoInspectionService, decodeImageIngested } from './domain/auto-inspection';
import { InspectionEvents } from './domain/events';
import { BatchExpander, type BatchSources } from './domain/batch-expansion';
import { HostingService } from './domain/hosting';
import { InspectionService, type ImageLookup } from './domain/inspections';
import { ModelCache } from './domain/model-cache';
import { WorkerRegistry } from './domain/workers';
import { inferenceRouter, type ImageIngest } from './http/router';
import { InferenceMetrics } from './metrics';
import { KyselyAutoInspectionRepository } from './repositories/auto-inspections';
import { KyselyHostingRepository } from './repositories/hosting';
import { KyselyInspectionRepository } from './repositories/inspections';
import { KyselyWorkerRepository } from './repositories/workers';
import {
  decodeBatchDetect,
  decodeInteractiveDetect,
  ExpandBatchPayloadSchema,
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
  /** Whether batches may name local folders (IMPORT_ALLOWED_ROOTS); S3 prefixes are always allowed. */
  readonly allowLocalFiles?: boolean;
  /** How often a worker process reports itself and drops models of versions no longer hosted (default 5 s). */
  readonly heartbeatMs?: number;
  /** Pending inspections per worker the desired-workers gauge aims at (default 20). */
  readonly jobsPerWorker?: number;
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
  /** Folders and S3 prefixes a batch may name (absent: such batches are refused). */
  readonly sources?: BatchSources;
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
  readonly workers: WorkerRegistry;
  readonly autoInspection: AutoInspectionService;
  registerWorkers(): void;
  /** Releases the loaded models (after the job runner has stopped). */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BATCH_IMAGES = 20_000;

/** The inference settings of the environment (the same variables in embedded and distributed mode). */
export function inferenceConfigFrom(
  environment: Pick<
    PlatformEnvironment,
    | 'INFERENCE_MAX_QUEUE_DEPTH'
    | 'INFERENCE_RETRY_AFTER_SECONDS'
    | 'INFERENCE_MODEL_CACHE_SIZE'
    | 'INFERENCE_THREADS'
    | 'INFERENCE_DETECT_TIMEOUT_SECONDS'
    | 'INFERENCE_HEARTBEAT_SECONDS'
    | 'INFERENCE_JOBS_PER_WORKER'
    | 'UPLOAD_MAX_BYTES'
  >,
  storage: { readonly allowLocalFiles: boolean },
): InferenceConfig {
  return {
    maxQueueDepth: environment.INFERENCE_MAX_QUEUE_DEPTH,
    retryAfterSeconds: environment.INFERENCE_RETRY_AFTER_SECONDS,
    modelCacheSize: environment.INFERENCE_MODEL_CACHE_SIZE,
    threads: environment.INFERENCE_THREADS,
    detectTimeoutMs: environment.INFERENCE_DETECT_TIMEOUT_SECONDS * 1000,
    maxUploadBytes: environment.UPLOAD_MAX_BYTES,
    allowLocalFiles: storage.allowLocalFiles,
    heartbeatMs: environment.INFERENCE_HEARTBEAT_SECONDS * 1000,
    jobsPerWorker: environment.INFERENCE_JOBS_PER_WORKER,
  };
}
export const DEFAULT_HEARTBEAT_MS = 5_000;
export const DEFAULT_JOBS_PER_WORKER = 20;

export function createInferenceService(deps: InferenceDeps): InferenceModule {
  const log = deps.log.child({ component: 'inference' });
  const inspectionRepo = new KyselyInspectionRepository(deps.db);
  const hostingRepo = new KyselyHostingRepository(deps.db);
  const events = new InspectionEvents(log);
  // The cache's events feed the metrics, and the metrics read the registry, which reads the cache.
  let registry: WorkerRegistry | null = null;
  const metrics = new InferenceMetrics(
    async () => ({
      [InferenceQueue.Interactive]: await inspectionRepo.queueDepth(InferenceQueue.Interactive),
      [InferenceQueue.Batch]: await inspectionRepo.queueDepth(InferenceQueue.Batch),
    }),
    async () => (registry ? registry.desired() : []),
  );
  const cache = new ModelCache<DetectionModel>(deps.config.modelCacheSize, metrics.cacheEvents);
  const workers = new WorkerRegistry(new KyselyWorkerRepository(deps.db), cache, log, {
    heartbeatMs: deps.config.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
    jobsPerWorker: deps.config.jobsPerWorker ?? DEFAULT_JOBS_PER_WORKER,
  });
  registry = workers;
  let heartbeating = false;
  const detector = new Detector({
    inspections: inspectionRepo,
    images: deps.images,
    store: deps.store,
    cache,
    engine: deps.engine ?? lazyInferenceEngine(),
    events,
    log,
    threads: deps.config.threads,
    onInspected: (queue, outcome, seconds) => metrics.inspected(queue, outcome, seconds),
  });
  const hosting = new HostingService(hostingRepo, deps.jobs, deps.audit, {
    // Reported at once, so the version's hosting shows this worker as soon as it is HOSTED.
    load: async (version) => {
      await detector.load(version);
      if (heartbeating) await workers.tick();
    },
    unload: (digest) => detector.unload(digest),
  });
  const inspections = new InspectionService(inspectionRepo, hostingRepo, deps.images, deps.jobs, deps.audit, events, {
    maxQueueDepth: deps.config.maxQueueDepth,
    retryAfterSeconds: deps.config.retryAfterSeconds,
    detectTimeoutMs: deps.config.detectTimeoutMs,
    maxBatchImages: deps.config.maxBatchImages ?? DEFAULT_MAX_BATCH_IMAGES,
  });
  const expander = new BatchExpander({
    inspections: inspectionRepo,
    hosting: hostingRepo,
    images: deps.images,
    sources: deps.sources ?? null,
    jobs: deps.jobs,
    admit: (queue, count) => inspections.admit(queue, count),
    config: {
      maxBatchImages: deps.config.maxBatchImages ?? DEFAULT_MAX_BATCH_IMAGES,
      maxImageBytes: deps.config.maxUploadBytes,
      allowLocalFiles: deps.config.allowLocalFiles ?? false,
    },
  });
  const autoInspection = new AutoInspectionService(
    new KyselyAutoInspectionRepository(deps.db),
    hostingRepo,
    inspections,
    deps.audit,
    log,
  );
  return {
    subgraph: {
      name: 'inference',
      typeDefs,
      resolvers: inferenceResolvers({ inspections, hosting, workers, autoInspection }),
    },
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
    workers,
    autoInspection,
    registerWorkers: () => {
      deps.jobs.register(InferenceQueue.Interactive, InferenceJobKind.InteractiveDetect, (payload, context) =>
        detector.run(decodeInteractiveDetect(payload), InferenceQueue.Interactive, context.jobId),
      );
      deps.jobs.register(InferenceQueue.Interactive, InferenceJobKind.HostModel, (payload) =>
        hosting.runHostJob(HostModelPayloadSchema.parse(payload)),
      );
      deps.jobs.register(InferenceQueue.Batch, InferenceJobKind.BatchDetect, (payload, context) =>
        detector.run(decodeBatchDetect(payload), InferenceQueue.Batch, context.jobId),
      );
      deps.jobs.register(InferenceQueue.Batch, InferenceJobKind.ExpandBatch, (payload, context) =>
        expander.run(ExpandBatchPayloadSchema.parse(payload), context),
      );
      deps.jobs.register(InferenceQueue.Batch, InferenceJobKind.AutoDetect, (payload, context) =>
        detector.run(decodeInteractiveDetect(payload), InferenceQueue.Batch, context.jobId),
      );
      deps.jobs.register(EVENTS_QUEUE, eventsV1.ImageIngestedSchema.typeName, (payload) =>
        autoInspection.onImageIngested(decodeImageIngested(payload)),
      );
      heartbeating = true;
      workers.start();
    },
    close: async () => {
      if (heartbeating) await workers.stop();
      await cache.clear();
    },
  };
}
