import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** A timestamp Postgres fills in; readable as Date, writable as Date or omitted. */
type CreatedAt = ColumnType<Date, Date | undefined, never>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** jsonb: read as parsed value, written as JSON text (portable across pg and PGlite). */
type Json<T> = ColumnType<T, string, string>;
type NullableJson<T> = ColumnType<T | null, string | null | undefined, string | null>;

export interface ApiKeysTable {
  id: Generated<string>;
  name: string;
  /** First characters of the secret, shown in listings and used to find the row. */
  prefix: string;
  /** sha256 of the full secret; keys are 256-bit random, so a slow hash adds nothing. */
  secret_hash: string;
  role: string;
  created_at: CreatedAt;
  created_by: string;
  revoked_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
}

export interface AuditLogTable {
  id: Generated<string>;
  at: CreatedAt;
  actor_id: string;
  actor_name: string;
  action: string;
  entity_type: string;
  entity_id: string;
  before: NullableJson<unknown>;
  after: NullableJson<unknown>;
  request_id: string | null;
}

export interface ImagesTable {
  /** sha256 of the stored bytes, hex: the image's identity and its object key. */
  id: string;
  format: string;
  width: number;
  height: number;
  channels: number;
  bit_depth: number;
  byte_size: number;
  original_name: string | null;
  line: string | null;
  station: string | null;
  camera: string | null;
  lot: string | null;
  captured_at: NullableTimestamp;
  tags: Json<string[]>;
  created_at: CreatedAt;
  created_by: string;
}

export interface ProjectsTable {
  id: Generated<string>;
  name: string;
  description: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  created_by: string;
}

export interface DatasetsTable {
  id: Generated<string>;
  project_id: string;
  type: string;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface DefectClassRow {
  name: string;
  color: string;
}

export interface DatasetEntriesTable {
  id: Generated<string>;
  dataset_id: string;
  image_id: string;
  label: string;
  /** Object key (sha256) of the segmentation mask PNG, if any. */
  mask_key: string | null;
  mask_classes: Json<DefectClassRow[]>;
  source_ref: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface JobsTable {
  id: Generated<string>;
  queue: string;
  kind: string;
  status: string;
  payload: Json<unknown>;
  progress_done: Generated<number>;
  progress_total: number | null;
  progress_step: string | null;
  summary: NullableJson<unknown>;
  error: NullableJson<unknown>;
  attempts: Generated<number>;
  idempotency_key: string | null;
  created_by: string;
  created_at: CreatedAt;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  updated_at: Timestamp;
}

export interface ModelVersionsTable {
  id: Generated<string>;
  project_id: string;
  /** 1, 2, 3… per project, like Lookout's model versions. */
  version: number;
  /** Lookout's statuses: TRAINING, TRAINED, TRAINING_FAILED, STARTING_HOSTING, HOSTED, HOSTING_FAILED, … */
  status: string;
  status_message: string | null;
  description: string | null;
  idempotency_key: string | null;
  job_id: string | null;
  /** Object key of the model artifact (content-addressed), its sha256 and size. */
  artifact_key: string | null;
  artifact_sha256: string | null;
  artifact_bytes: ColumnType<number | null, number | null | undefined, number | null>;
  /** sha256 over the sorted entries (role, image, label, mask) the version was trained and tested on. */
  dataset_digest: string | null;
  engine_config: Json<unknown>;
  engine_summary: NullableJson<unknown>;
  metrics: NullableJson<unknown>;
  timings: NullableJson<unknown>;
  /** Bounded list of { at, level, message }; '[]' by default. */
  logs: ColumnType<unknown, string | undefined, string>;
  created_by: string;
  created_at: CreatedAt;
  updated_at: Timestamp;
  trained_at: NullableTimestamp;
  /** Width and height of every training image when they were uniform; null for mixed sizes. */
  image_width: ColumnType<number | null, number | null | undefined, number | null>;
  image_height: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface ModelVersionCountersTable {
  project_id: string;
  last_version: number;
}

export interface ModelEvaluationsTable {
  model_version_id: string;
  image_id: string;
  expected: string;
  /** Normalised score in [0,1]; 0.5 is the model's threshold. */
  score: number;
  raw_score: number;
  verdict: string;
  correct: boolean;
  mask_key: string | null;
  created_at: CreatedAt;
}

export interface ModelDeploymentsTable {
  model_version_id: string;
  min_workers: number;
  max_workers: number;
  /** HOSTED or STOPPED: what an operator asked for. */
  desired_state: string;
  /** STARTING, HOSTED, FAILED, STOPPING or STOPPED: what the workers did. */
  actual_state: string;
  message: string | null;
  updated_at: Timestamp;
}

export interface InspectionBatchesTable {
  id: Generated<string>;
  project_id: string;
  model_version_id: string;
  total: number;
  done: Generated<number>;
  failed: Generated<number>;
  /** Images of a source that were not images or could not be ingested. */
  skipped: Generated<number>;
  /** EXPANDING (inspections still being created), RUNNING, DONE or FAILED (the source could not be read). */
  status: string;
  /** What the batch names: `{ imageIds }`, `{ datasetId }` or `{ source, metadata }`. */
  source: NullableJson<unknown>;
  /** Why the expansion failed: `{ code, message }`. */
  error: NullableJson<{ code: string; message: string }>;
  idempotency_key: string | null;
  created_by: string;
  created_at: CreatedAt;
  finished_at: NullableTimestamp;
}

export interface InspectionsTable {
  id: Generated<string>;
  project_id: string;
  model_version_id: string;
  model_version: number;
  artifact_sha256: string;
  image_id: string;
  batch_id: string | null;
  /** QUEUED, RUNNING, DONE or FAILED. */
  status: string;
  /** normal or anomaly once DONE. */
  verdict: string | null;
  /** Normalised score in [0,1]; 0.5 is the threshold. */
  score: number | null;
  raw_score: number | null;
  /** The raw threshold the raw score was compared with. */
  threshold: number | null;
  confidence: number | null;
  heatmap_key: string | null;
  mask_key: string | null;
  anomalies: NullableJson<unknown>;
  line: string | null;
  station: string | null;
  camera: string | null;
  lot: string | null;
  captured_at: NullableTimestamp;
  timings: NullableJson<unknown>;
  requested_by: string;
  idempotency_key: string | null;
  job_id: string | null;
  error: NullableJson<unknown>;
  created_at: CreatedAt;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
}

export interface InspectionOverridesTable {
  id: Generated<string>;
  inspection_id: string;
  verdict: string;
  reason: string;
  actor_id: string;
  actor_name: string;
  at: CreatedAt;
}

/** One inference process, kept fresh by its heartbeat. */
export interface InferenceWorkersTable {
  id: string;
  host: string;
  pid: number;
  /** Artifact sha256s this process has loaded. */
  loaded_digests: Json<string[]>;
  started_at: CreatedAt;
  last_seen_at: Timestamp;
}

/** Automatic inspection of newly ingested images, per project. */
export interface AutoInspectionsTable {
  project_id: string;
  model_version_id: string;
  enabled: boolean;
  line: string | null;
  station: string | null;
  camera: string | null;
  updated_by: string;
  updated_at: Timestamp;
}

/** SigV4 access key pairs (the Lookout-compatible REST layer); the secret is AES-256-GCM encrypted. */
export interface AccessKeyPairsTable {
  id: Generated<string>;
  access_key_id: string;
  secret_ciphertext: string;
  name: string;
  role: string;
  created_at: CreatedAt;
  created_by: string;
  revoked_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
}

export interface LookoutTagsTable {
  resource_arn: string;
  tag_key: string;
  tag_value: string;
  updated_at: CreatedAt;
}

export interface LookoutClientTokensTable {
  principal_id: string;
  operation: string;
  token: string;
  fingerprint: string;
  status: number;
  response: Json<unknown>;
  /** Renewed when an expired token is used again. */
  created_at: Timestamp;
}

export interface LookoutDatasetJobsTable {
  project_id: string;
  dataset_type: string;
  job_id: string;
  kind: string;
  created_at: CreatedAt;
}

export interface LookoutModelOutputsTable {
  model_version_id: string;
  bucket: string;
  prefix: string;
  manifest_key: string | null;
  result_key: string | null;
  written_at: NullableTimestamp;
}

/** One file of an edge package, as written to the output location. */
export interface PackagedFile {
  key: string;
  sha256: string;
  bytes: number;
}

export interface ModelPackagingJobsTable {
  id: Generated<string>;
  project_id: string;
  model_version_id: string;
  model_version: number;
  name: string;
  description: string | null;
  status: string;
  status_message: string | null;
  output_bucket: string;
  output_prefix: string;
  component_name: string;
  component_version: string;
  configuration: NullableJson<unknown>;
  files: ColumnType<PackagedFile[], string | undefined, string>;
  job_id: string | null;
  created_by: string;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface Database {
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  images: ImagesTable;
  projects: ProjectsTable;
  datasets: DatasetsTable;
  dataset_entries: DatasetEntriesTable;
  jobs: JobsTable;
  model_versions: ModelVersionsTable;
  model_evaluations: ModelEvaluationsTable;
  model_version_counters: ModelVersionCountersTable;
  model_deployments: ModelDeploymentsTable;
  inspection_batches: InspectionBatchesTable;
  inspections: InspectionsTable;
  inspection_overrides: InspectionOverridesTable;
  inference_workers: InferenceWorkersTable;
  auto_inspections: AutoInspectionsTable;
  access_key_pairs: AccessKeyPairsTable;
  lookout_tags: LookoutTagsTable;
  lookout_client_tokens: LookoutClientTokensTable;
  lookout_dataset_jobs: LookoutDatasetJobsTable;
  lookout_model_outputs: LookoutModelOutputsTable;
  model_packaging_jobs: ModelPackagingJobsTable;
}

export type ApiKeyRow = Selectable<ApiKeysTable>;
export type AuditRow = Selectable<AuditLogTable>;
export type ImageRow = Selectable<ImagesTable>;
export type NewImageRow = Insertable<ImagesTable>;
export type ProjectRow = Selectable<ProjectsTable>;
export type DatasetRow = Selectable<DatasetsTable>;
export type DatasetEntryRow = Selectable<DatasetEntriesTable>;
export type NewDatasetEntryRow = Insertable<DatasetEntriesTable>;
export type DatasetEntryUpdate = Updateable<DatasetEntriesTable>;
export type JobRow = Selectable<JobsTable>;
export type ModelVersionRow = Selectable<ModelVersionsTable>;
export type NewModelVersionRow = Insertable<ModelVersionsTable>;
export type ModelVersionUpdate = Updateable<ModelVersionsTable>;
export type ModelEvaluationRow = Selectable<ModelEvaluationsTable>;
export type NewModelEvaluationRow = Insertable<ModelEvaluationsTable>;
export type ModelDeploymentRow = Selectable<ModelDeploymentsTable>;
export type InspectionBatchRow = Selectable<InspectionBatchesTable>;
export type InspectionRow = Selectable<InspectionsTable>;
export type NewInspectionRow = Insertable<InspectionsTable>;
export type InspectionUpdate = Updateable<InspectionsTable>;
export type InspectionOverrideRow = Selectable<InspectionOverridesTable>;
export type InferenceWorkerRow = Selectable<InferenceWorkersTable>;
export type AutoInspectionRow = Selectable<AutoInspectionsTable>;
export type AccessKeyPairRow = Selectable<AccessKeyPairsTable>;
export type ModelPackagingJobRow = Selectable<ModelPackagingJobsTable>;
