import { parse } from 'graphql';
import { SHARED_TYPE_DEFS } from '@vigil/service-kit';

export const typeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])

  ${SHARED_TYPE_DEFS}

  "An image, owned by the ingestion subgraph."
  type Image @key(fields: "id", resolvable: false) {
    id: ID!
  }

  "A project, owned by the dataset subgraph; this subgraph adds its latest inspections."
  type Project @key(fields: "id") {
    id: ID!
    "The project's latest inspections, newest first"
    recentInspections(first: Int = 20): [Inspection!]!
    "Automatic inspection of newly ingested images; null until set once"
    autoInspection: AutoInspection
  }

  "Which newly ingested images a project inspects automatically, and with which hosted version"
  type AutoInspection {
    projectId: ID!
    modelVersion: ModelVersion!
    enabled: Boolean!
    "Only images with this line (null: any); likewise station and camera"
    line: String
    station: String
    camera: String
    updatedBy: String!
    updatedAt: DateTime!
  }

  input SetAutoInspectionInput {
    projectId: ID!
    "A HOSTED version of the project (required the first time; kept otherwise)"
    modelVersionId: ID
    enabled: Boolean!
    line: String
    station: String
    camera: String
  }

  "One inference process, as its heartbeat reports it"
  type InferenceWorker {
    id: ID!
    host: String!
    pid: Int!
    "sha256s of the model artifacts it has loaded"
    loadedArtifacts: [String!]!
    startedAt: DateTime!
    lastSeenAt: DateTime!
  }

  "A model version, owned by the training subgraph; this subgraph adds its hosting."
  type ModelVersion @key(fields: "id") {
    id: ID!
    "Null until the version has been started once"
    hosting: ModelHosting
  }

  enum HostingState {
    STARTING
    HOSTED
    FAILED
    STOPPING
    STOPPED
  }

  type ModelHosting {
    "What the workers did (the version's status says the same in Lookout's terms)"
    state: HostingState!
    minWorkers: Int!
    maxWorkers: Int!
    "Live inference workers that have this version's model loaded"
    workers: Int!
    "What an autoscaler should run: clamp(ceil(pending inspections / per-worker target), minWorkers, maxWorkers)"
    desiredWorkers: Int!
    message: String
    updatedAt: DateTime!
  }

  enum Verdict {
    NORMAL
    ANOMALY
  }

  enum InspectionStatus {
    QUEUED
    RUNNING
    DONE
    FAILED
  }

  type InspectionMetadata {
    line: String
    station: String
    camera: String
    lot: String
    capturedAt: DateTime
  }

  "Milliseconds. decodeMs is reading and checking the stored image; the engine decodes within inferenceMs."
  type InspectionTimings {
    queueWaitMs: Float!
    decodeMs: Float!
    inferenceMs: Float!
    totalMs: Float!
  }

  "Share of the image per defect class (models trained with masks), background first"
  type AnomalyArea {
    name: String!
    totalPercentageArea: Float!
    color: String!
  }

  type InspectionOverride {
    verdict: Verdict!
    reason: String!
    actorId: String!
    actorName: String!
    at: DateTime!
  }

  "One verdict, kept as a record."
  type Inspection {
    id: ID!
    status: InspectionStatus!
    image: Image!
    imageId: ID!
    projectId: ID!
    modelVersion: ModelVersion!
    "The version number within the project"
    modelVersionNumber: Int!
    "sha256 of the model artifact that decided"
    artifactSha256: String!
    batchId: ID
    "The model's verdict; an override never changes it"
    verdict: Verdict
    "The latest override's verdict, else the model's"
    effectiveVerdict: Verdict
    overrides: [InspectionOverride!]!
    "Normalised anomaly score in [0,1]; 0.5 is the threshold"
    score: Float
    rawScore: Float
    "The raw threshold rawScore was compared with"
    threshold: Float
    "How sure the model is of its verdict, 0..1"
    confidence: Float
    heatmapKey: String
    "GET this path on the gateway (with the API key) for the heat map PNG"
    heatmapPath: String
    maskKey: String
    "GET this path for the segmentation mask PNG (models trained with masks)"
    maskPath: String
    anomalies: [AnomalyArea!]
    metadata: InspectionMetadata!
    timings: InspectionTimings
    requestedBy: String!
    idempotencyKey: String
    error: JobError
    createdAt: DateTime!
    startedAt: DateTime
    finishedAt: DateTime
  }

  type InspectionConnection {
    nodes: [Inspection!]!
    pageInfo: PageInfo!
  }

  enum InspectionBatchStatus {
    "Its inspections are still being created (a source is listed and ingested first)"
    EXPANDING
    RUNNING
    DONE
    "What the batch names could not be read (see error)"
    FAILED
  }

  type InspectionBatch {
    id: ID!
    projectId: ID!
    modelVersion: ModelVersion!
    status: InspectionBatchStatus!
    total: Int!
    done: Int!
    failed: Int!
    "Files of a source that were not images or could not be ingested"
    skipped: Int!
    "The folder or S3 prefix the batch inspects, if any"
    source: String
    "Why the batch FAILED"
    error: JobError
    progress: JobProgress!
    createdBy: String!
    createdAt: DateTime!
    finishedAt: DateTime
    inspections(first: Int = 50, after: String): InspectionConnection!
  }

  input DetectMetadataInput {
    line: String
    station: String
    camera: String
    lot: String
    capturedAt: DateTime
  }

  input DetectAnomaliesInput {
    modelVersionId: ID!
    "A stored image (upload with POST /v1/images, or use POST /v1/detect to upload and detect at once)"
    imageId: ID!
    "Overrides the image's own capture metadata field by field"
    metadata: DetectMetadataInput
    "A retried request with the same key returns the first inspection"
    idempotencyKey: String
  }

  input SubmitInspectionBatchInput {
    modelVersionId: ID!
    "At most 20,000 stored images (or datasetId)"
    imageIds: [ID!]
    "Every image of a dataset"
    datasetId: ID
    "Every image below s3://bucket/prefix (or a folder under IMPORT_ALLOWED_ROOTS), ingested first"
    source: String
    "Capture metadata of the images a source batch ingests"
    metadata: DetectMetadataInput
    idempotencyKey: String
  }

  "Filters combine with AND. verdict filters on the model's verdict."
  input InspectionFilter {
    projectId: ID
    modelVersionId: ID
    batchId: ID
    line: String
    station: String
    lot: String
    verdict: Verdict
    status: InspectionStatus
    since: DateTime
    until: DateTime
  }

  type Query {
    "NOT_FOUND when there is none"
    inspection(id: ID!): Inspection!
    "Newest first"
    inspections(filter: InspectionFilter, first: Int = 50, after: String): InspectionConnection!
    inspectionBatch(id: ID!): InspectionBatch!
    "Live inference worker processes"
    inferenceWorkers: [InferenceWorker!]!
  }

  type Mutation {
    "Hosts a TRAINED version: STARTING_HOSTING, then HOSTED once a worker has loaded it (or HOSTING_FAILED)"
    startModel(modelVersionId: ID!, minWorkers: Int = 1, maxWorkers: Int): ModelVersion!
    "STOPPING_HOSTING, then TRAINED"
    stopModel(modelVersionId: ID!): ModelVersion!
    "Inspects one stored image with a hosted version and answers with the record (RESOURCE_EXHAUSTED when the queue is full)"
    detectAnomalies(input: DetectAnomaliesInput!): Inspection!
    "Inspects many images in the background; follow it with inspectionBatch"
    submitInspectionBatch(input: SubmitInspectionBatchInput!): InspectionBatch!
    "Records an operator's verdict with a reason; the model's verdict stays"
    overrideInspection(id: ID!, verdict: Verdict!, reason: String!): Inspection!
    "Inspects every newly ingested image (that matches) with a hosted version; audit-logged"
    setAutoInspection(input: SetAutoInspectionInput!): AutoInspection!
  }
`);
