import { z } from 'zod';
import { isRole } from '@vigil/contracts';
import {
  actorFromProto,
  actorToProto,
  captureMetadataFromProto,
  captureMetadataToProto,
  decodeJson,
  encodeJson,
  jobsV1,
  requireText,
  type JobActor,
} from '@vigil/proto';
import type { CaptureMetadata } from '@vigil/contracts';

/**
 * The inference service's background work. Interactive detection (a line waiting for one part) and batch
 * detection have separate queues, so a batch never delays a line. Names are part of the queue contract.
 */
export const InferenceQueue = { Interactive: 'inference-interactive', Batch: 'inference-batch' } as const;
export type InferenceQueue = (typeof InferenceQueue)[keyof typeof InferenceQueue];
export const InferenceJobKind = {
  InteractiveDetect: 'inference.detect-interactive',
  BatchDetect: 'inference.detect-batch',
  HostModel: 'inference.host-model',
  /** An automatic inspection of a newly ingested image, on the batch queue (payload: InteractiveDetectJob). */
  AutoDetect: 'inference.detect-auto',
  /** Creates a batch's inspections (ingesting a folder or S3 prefix first) and queues them; internal. */
  ExpandBatch: 'inference.expand-batch',
} as const;

/** One image to inspect, as the detector uses it (either detection job, decoded). */
export interface DetectPayload {
  readonly inspectionId: string;
  readonly imageId: string;
  readonly modelVersionId: string;
  readonly idempotencyKey: string;
  readonly metadata?: CaptureMetadata;
  readonly actor: JobActor;
  readonly batchId?: string;
}

function base(payload: DetectPayload) {
  return {
    inspectionId: payload.inspectionId,
    imageId: payload.imageId,
    modelVersionId: payload.modelVersionId,
    idempotencyKey: payload.idempotencyKey,
    ...(payload.metadata ? { metadata: captureMetadataToProto(payload.metadata) } : {}),
    actor: actorToProto(payload.actor),
  };
}

/** The job row's payload: the protobuf JSON form of vigil.jobs.v1.InteractiveDetectJob. */
export function encodeInteractiveDetect(payload: DetectPayload): jobsV1.InteractiveDetectJobJson {
  return encodeJson(jobsV1.InteractiveDetectJobSchema, base(payload));
}

/** The job row's payload: the protobuf JSON form of vigil.jobs.v1.BatchDetectJob. */
export function encodeBatchDetect(payload: DetectPayload & { batchId: string }): jobsV1.BatchDetectJobJson {
  return encodeJson(jobsV1.BatchDetectJobSchema, { ...base(payload), batchId: payload.batchId });
}

function fromMessage(
  job: Pick<
    jobsV1.InteractiveDetectJob,
    'inspectionId' | 'imageId' | 'modelVersionId' | 'idempotencyKey' | 'metadata' | 'actor'
  >,
  what: string,
): DetectPayload {
  const metadata = captureMetadataFromProto(job.metadata, what);
  return {
    inspectionId: requireText(job.inspectionId, 'inspectionId', what),
    imageId: requireText(job.imageId, 'imageId', what),
    modelVersionId: requireText(job.modelVersionId, 'modelVersionId', what),
    idempotencyKey: job.idempotencyKey,
    ...(metadata ? { metadata } : {}),
    actor: actorFromProto(job.actor, what),
  };
}

/** BAD_USER_INPUT (not retried) when the payload is not a valid InteractiveDetectJob. */
export function decodeInteractiveDetect(json: unknown): DetectPayload {
  const schema = jobsV1.InteractiveDetectJobSchema;
  return fromMessage(decodeJson(schema, json), schema.typeName);
}

/** BAD_USER_INPUT (not retried) when the payload is not a valid BatchDetectJob. */
export function decodeBatchDetect(json: unknown): DetectPayload & { batchId: string } {
  const schema = jobsV1.BatchDetectJobSchema;
  const job = decodeJson(schema, json);
  return { ...fromMessage(job, schema.typeName), batchId: requireText(job.batchId, 'batchId', schema.typeName) };
}

/**
 * Loading a version on a worker when it is started. Internal to this service (no other service produces or
 * consumes it), so it is a zod schema like the training service's payload rather than a proto contract.
 */
export const HostModelPayloadSchema = z.object({
  modelVersionId: z.string(),
  actor: z.object({
    principal: z.object({ id: z.string(), name: z.string(), role: z.string().refine(isRole) }),
    requestId: z.string().optional(),
  }),
});
export type HostModelPayload = z.infer<typeof HostModelPayloadSchema>;

/** The expand-batch job: the batch row holds what it names. */
export const ExpandBatchPayloadSchema = z.object({
  batchId: z.string(),
  actor: HostModelPayloadSchema.shape.actor,
});
export type ExpandBatchPayload = z.infer<typeof ExpandBatchPayloadSchema>;
