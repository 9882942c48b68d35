import type { CaptureMetadata } from '@vigil/contracts';
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

/** The ingestion service's background work. Names are part of the queue contract: never rename. */
export const IngestionQueue = { Imports: 'ingestion-imports' } as const;
export const IngestionJobKind = { ImportImages: 'ingestion.import-images' } as const;

/**
 * An ImportImages job (vigil.jobs.v1.ImportImagesJob) as the importer uses it: the generated message, checked, with
 * the capture metadata in its domain form.
 */
export type ImportImagesPayload = Omit<jobsV1.ImportImagesJob, '$typeName' | '$unknown' | 'metadata' | 'actor'> & {
  readonly metadata?: CaptureMetadata;
  readonly actor: JobActor;
};

/** The job row's payload: the protobuf JSON form of vigil.jobs.v1.ImportImagesJob. */
export function encodeImportImagesPayload(payload: ImportImagesPayload): jobsV1.ImportImagesJobJson {
  return encodeJson(jobsV1.ImportImagesJobSchema, {
    source: payload.source,
    ...(payload.metadata ? { metadata: captureMetadataToProto(payload.metadata) } : {}),
    actor: actorToProto(payload.actor),
  });
}

/** Reads a job row's payload; BAD_USER_INPUT when it is not a valid ImportImagesJob. */
export function decodeImportImagesPayload(json: unknown): ImportImagesPayload {
  const schema = jobsV1.ImportImagesJobSchema;
  const job = decodeJson(schema, json);
  const metadata = captureMetadataFromProto(job.metadata, schema.typeName);
  return {
    source: requireText(job.source, 'source', schema.typeName),
    ...(metadata ? { metadata } : {}),
    actor: actorFromProto(job.actor, schema.typeName),
  };
}

export interface ImageImportFailure {
  readonly item: string;
  readonly code: string;
  readonly message: string;
}

export interface ImageImportSummary {
  readonly imported: number;
  readonly deduplicated: number;
  readonly failed: number;
  readonly skipped: number;
  readonly failures: ImageImportFailure[];
}
