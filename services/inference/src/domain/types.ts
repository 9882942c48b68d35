import type { CaptureMetadata } from '@vigil/contracts';
import type { Cursor } from '@vigil/service-kit';

export const InspectionStatus = { Queued: 'QUEUED', Running: 'RUNNING', Done: 'DONE', Failed: 'FAILED' } as const;
export type InspectionStatus = (typeof InspectionStatus)[keyof typeof InspectionStatus];
export type Verdict = 'normal' | 'anomaly';
export const VERDICTS: readonly Verdict[] = ['normal', 'anomaly'];

export interface InspectionMetadata {
  readonly line: string | null;
  readonly station: string | null;
  readonly camera: string | null;
  readonly lot: string | null;
  readonly capturedAt: Date | null;
}

export interface AnomalyArea {
  readonly name: string;
  readonly totalPercentageArea: number;
  readonly color: string;
}

/** Milliseconds; `decodeMs` is reading and checking the stored bytes (the engine decodes inside inference). */
export interface InspectionTimings {
  readonly queueWaitMs: number;
  readonly decodeMs: number;
  readonly inferenceMs: number;
  readonly totalMs: number;
}

export interface Inspection {
  readonly id: string;
  readonly projectId: string;
  readonly modelVersionId: string;
  readonly modelVersion: number;
  readonly artifactSha256: string;
  readonly imageId: string;
  readonly batchId: string | null;
  readonly status: InspectionStatus;
  readonly verdict: Verdict | null;
  readonly score: number | null;
  readonly rawScore: number | null;
  readonly threshold: number | null;
  readonly confidence: number | null;
  readonly heatmapKey: string | null;
  readonly maskKey: string | null;
  readonly anomalies: readonly AnomalyArea[] | null;
  readonly metadata: InspectionMetadata;
  readonly timings: InspectionTimings | null;
  readonly requestedBy: string;
  readonly idempotencyKey: string | null;
  readonly jobId: string | null;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

export interface NewInspection {
  readonly projectId: string;
  readonly modelVersionId: string;
  readonly modelVersion: number;
  readonly artifactSha256: string;
  readonly imageId: string;
  readonly batchId: string | null;
  readonly metadata: InspectionMetadata;
  readonly requestedBy: string;
  /** Null: no deduplication (an interactive call without a key). */
  readonly idempotencyKey: string | null;
}

export interface InspectionResult {
  readonly verdict: Verdict;
  readonly score: number;
  readonly rawScore: number;
  readonly threshold: number;
  readonly confidence: number;
  readonly heatmapKey: string | null;
  readonly maskKey: string | null;
  readonly anomalies: readonly AnomalyArea[] | null;
  readonly timings: InspectionTimings;
}

export interface InspectionOverride {
  readonly id: string;
  readonly inspectionId: string;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly actorId: string;
  readonly actorName: string;
  readonly at: Date;
}

export interface InspectionFilter {
  readonly projectId?: string;
  readonly modelVersionId?: string;
  readonly batchId?: string;
  readonly line?: string;
  readonly station?: string;
  readonly lot?: string;
  readonly verdict?: Verdict;
  readonly status?: InspectionStatus;
  readonly since?: Date;
  readonly until?: Date;
}

/**
 * EXPANDING: its inspections are still being created (the total may grow); RUNNING: all created, some pending;
 * DONE: every inspection finished; FAILED: the expansion could not read what the batch names.
 */
export type BatchStatus = 'EXPANDING' | 'RUNNING' | 'DONE' | 'FAILED';

/** What a batch inspects: stored images (listed, or a dataset's, resolved at submission) or a folder/S3 prefix. */
export type BatchSource =
  | { readonly kind: 'images'; readonly imageIds: readonly string[]; readonly datasetId?: string }
  | { readonly kind: 'source'; readonly uri: string; readonly metadata?: CaptureMetadata };

export interface InspectionBatch {
  readonly id: string;
  readonly projectId: string;
  readonly modelVersionId: string;
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  /** Images of a source that could not be ingested, or were not images. */
  readonly skipped: number;
  readonly status: BatchStatus;
  /** What the batch names; the expansion job reads it. */
  readonly source: BatchSource;
  /** Why the expansion failed (status FAILED). */
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly idempotencyKey: string | null;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly finishedAt: Date | null;
}

/** An inspection that a worker has just claimed, and the version it names (null: deleted). */
export interface RunningInspection {
  readonly inspection: Inspection;
  readonly version: HostableVersion | null;
}

/** Inspections, their overrides and batches: the records. */
export interface InspectionRepository {
  /** Inserts, or returns the inspection that already has this idempotency key (`created: false`). */
  create(input: NewInspection): Promise<{ inspection: Inspection; created: boolean }>;
  createMany(inputs: readonly NewInspection[]): Promise<Inspection[]>;
  setJob(id: string, jobId: string): Promise<void>;
  findById(id: string): Promise<Inspection | null>;
  findByIdempotencyKey(key: string): Promise<Inspection | null>;
  /**
   * QUEUED -> RUNNING, with its model version as it stands at that moment (null when gone), read by the same
   * statement; null when it is not QUEUED or RUNNING (already finished).
   */
  /** Claims the inspection for the job `jobId` (linked when the record has no job yet). */
  markRunning(id: string, at: Date, jobId?: string): Promise<RunningInspection | null>;
  /** -> DONE, and counts it on its batch; false when it had already finished. */
  complete(id: string, result: InspectionResult, at: Date): Promise<Inspection | null>;
  /** -> FAILED, and counts it on its batch; null when it had already finished. */
  fail(id: string, error: { code: string; message: string }, at: Date): Promise<Inspection | null>;
  list(filter: InspectionFilter, limit: number, after: Cursor | null): Promise<Inspection[]>;
  addOverride(input: {
    inspectionId: string;
    verdict: Verdict;
    reason: string;
    actorId: string;
    actorName: string;
  }): Promise<InspectionOverride>;
  overridesOf(inspectionId: string): Promise<InspectionOverride[]>;
  /** A new batch, EXPANDING; or the batch that already has this idempotency key (`created: false`). */
  createBatch(input: {
    projectId: string;
    modelVersionId: string;
    total: number;
    source: BatchSource;
    idempotencyKey: string | null;
    createdBy: string;
  }): Promise<{ batch: InspectionBatch; created: boolean }>;
  /** While EXPANDING: the number of inspections and of skipped source items. */
  setBatchTotal(id: string, total: number, skipped: number): Promise<void>;
  /** EXPANDING -> RUNNING, or DONE when every inspection already finished. */
  finishExpansion(id: string, at: Date): Promise<InspectionBatch | null>;
  /** EXPANDING -> FAILED with the reason. */
  failBatch(id: string, error: { code: string; message: string }, at: Date): Promise<InspectionBatch | null>;
  findBatch(id: string): Promise<InspectionBatch | null>;
  findBatchByKey(key: string): Promise<InspectionBatch | null>;
  /** Detection jobs queued or running on a queue. */
  queueDepth(queue: string): Promise<number>;
  /** Inspections of a version queued or running. */
  pendingCount(modelVersionId: string): Promise<number>;
}

/** The fields of a model version hosting needs (owned by the training service). */
export interface HostableVersion {
  readonly id: string;
  readonly projectId: string;
  readonly version: number;
  readonly status: string;
  readonly artifactKey: string | null;
  readonly artifactSha256: string | null;
  /** The training images' size when uniform: detection refuses other sizes. Null: any size. */
  readonly imageWidth: number | null;
  readonly imageHeight: number | null;
}

export interface Deployment {
  readonly modelVersionId: string;
  readonly minWorkers: number;
  readonly maxWorkers: number;
  readonly desiredState: 'HOSTED' | 'STOPPED';
  readonly actualState: 'STARTING' | 'HOSTED' | 'FAILED' | 'STOPPING' | 'STOPPED';
  readonly message: string | null;
  readonly updatedAt: Date;
}

/**
 * Hosting state. Deployments are this service's; the hosting transitions of model_versions.status are the
 * one write this service makes to a training-owned table (see the README).
 */
export interface HostingRepository {
  findVersion(id: string): Promise<HostableVersion | null>;
  /** Sets the status when it is one of `from`; false otherwise. */
  transition(id: string, from: readonly string[], to: string, message?: string | null): Promise<boolean>;
  findDeployment(id: string): Promise<Deployment | null>;
  saveDeployment(
    deployment: Omit<Deployment, 'updatedAt' | 'message'> & { message?: string | null },
  ): Promise<Deployment>;
  /** Image ids of a dataset in entry order; null when the dataset does not exist. */
  datasetImages(datasetId: string, limit: number): Promise<{ projectId: string; imageIds: string[] } | null>;
}
