import { DatasetType, EntryLabel } from '@vigil/contracts';
import {
  actorFromProto,
  actorToProto,
  decodeJson,
  encodeJson,
  jobsV1,
  oneOf,
  requireText,
  type JobActor,
} from '@vigil/proto';

/** The dataset service's background work. Names are part of the queue contract: never rename. */
export const DatasetQueue = { Imports: 'dataset-imports' } as const;
export const DatasetJobKind = {
  ImportManifest: 'dataset.import-manifest',
  ImportFolder: 'dataset.import-folder',
} as const;

const DATASET_TYPES = [DatasetType.Train, DatasetType.Test] as const;
const LABELS = [EntryLabel.Normal, EntryLabel.Anomaly, EntryLabel.Unlabelled] as const;

/** Fields of a generated message that are protobuf-es bookkeeping, not contract. */
type Bookkeeping = '$typeName' | '$unknown';

/**
 * An ImportManifest job (vigil.jobs.v1.ImportManifestJob) as the importer uses it: the generated message, checked,
 * with the string fields that carry a closed set of values narrowed to their domain types.
 */
export type ImportManifestPayload = Omit<
  jobsV1.ImportManifestJob,
  Bookkeeping | 'datasetType' | 'allowPartial' | 'actor'
> & {
  readonly datasetType: DatasetType;
  readonly allowPartial: boolean;
  readonly actor: JobActor;
};

/** An ImportFolder job (vigil.jobs.v1.ImportFolderJob) as the importer uses it. */
export type ImportFolderPayload = Omit<jobsV1.ImportFolderJob, Bookkeeping | 'datasetType' | 'label' | 'actor'> & {
  readonly datasetType?: DatasetType;
  readonly label?: EntryLabel;
  readonly actor: JobActor;
};

/** The job row's payload: the protobuf JSON form of vigil.jobs.v1.ImportManifestJob. */
export function encodeImportManifestPayload(payload: ImportManifestPayload): jobsV1.ImportManifestJobJson {
  return encodeJson(jobsV1.ImportManifestJobSchema, { ...payload, actor: actorToProto(payload.actor) });
}

/** Reads a job row's payload; BAD_USER_INPUT when it is not a valid ImportManifestJob. */
export function decodeImportManifestPayload(json: unknown): ImportManifestPayload {
  const schema = jobsV1.ImportManifestJobSchema;
  const what = schema.typeName;
  const { $typeName: _t, $unknown: _u, ...job } = decodeJson(schema, json);
  return {
    ...job,
    projectId: requireText(job.projectId, 'projectId', what),
    datasetType: oneOf(job.datasetType, DATASET_TYPES, 'datasetType', what),
    allowPartial: job.allowPartial ?? false,
    actor: actorFromProto(job.actor, what),
  };
}

/** The job row's payload: the protobuf JSON form of vigil.jobs.v1.ImportFolderJob. */
export function encodeImportFolderPayload(payload: ImportFolderPayload): jobsV1.ImportFolderJobJson {
  return encodeJson(jobsV1.ImportFolderJobSchema, { ...payload, actor: actorToProto(payload.actor) });
}

/** Reads a job row's payload; BAD_USER_INPUT when it is not a valid ImportFolderJob. */
export function decodeImportFolderPayload(json: unknown): ImportFolderPayload {
  const schema = jobsV1.ImportFolderJobSchema;
  const what = schema.typeName;
  const { $typeName: _t, $unknown: _u, datasetType, label, ...job } = decodeJson(schema, json);
  return {
    ...job,
    projectId: requireText(job.projectId, 'projectId', what),
    source: requireText(job.source, 'source', what),
    ...(datasetType !== undefined ? { datasetType: oneOf(datasetType, DATASET_TYPES, 'datasetType', what) } : {}),
    ...(label !== undefined ? { label: oneOf(label, LABELS, 'label', what) } : {}),
    actor: actorFromProto(job.actor, what),
  };
}

export interface ImportWarning {
  readonly line?: number;
  readonly item?: string;
  readonly message: string;
}

export interface ImportFailure {
  readonly line?: number;
  readonly item: string;
  readonly code: string;
  readonly message: string;
}

export interface DatasetImportCount {
  readonly type: DatasetType;
  normal: number;
  anomaly: number;
  unlabelled: number;
}

export interface DatasetImportSummary {
  readonly source: string;
  readonly layout: string | null;
  readonly entriesCreated: number;
  readonly entriesUpdated: number;
  readonly imagesStored: number;
  readonly imagesDeduplicated: number;
  readonly masks: number;
  readonly byDataset: DatasetImportCount[];
  readonly warnings: ImportWarning[];
  readonly failures: ImportFailure[];
}
