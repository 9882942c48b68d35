import { parse } from 'graphql';
import { SHARED_TYPE_DEFS } from '@vigil/service-kit';

export const typeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])

  ${SHARED_TYPE_DEFS}

  "An image, owned by the ingestion subgraph."
  type Image @key(fields: "id", resolvable: false) {
    id: ID!
  }

  "A project, owned by the dataset subgraph; this subgraph adds its models."
  type Project @key(fields: "id") {
    id: ID!
    "Every version of the project's model, newest first"
    models: [ModelVersion!]!
    "One version by its number; null when there is none"
    model(version: Int!): ModelVersion
  }

  "Lookout for Vision's model statuses."
  enum ModelStatus {
    TRAINING
    TRAINED
    TRAINING_FAILED
    STARTING_HOSTING
    HOSTED
    HOSTING_FAILED
    STOPPING_HOSTING
    DELETING
  }

  enum Verdict {
    NORMAL
    ANOMALY
  }

  enum ThresholdMode {
    "The threshold with the best F1 on held-out normals and the labelled anomalies (default)"
    F1
    "Reject at most this share of normal parts"
    FALSE_REJECT_RATE
    "Miss at most this share of anomalous parts"
    MISS_RATE
  }

  "Test results of a trained version. Anomalous is the positive class."
  type ModelMetrics {
    precision: Float!
    recall: Float!
    f1: Float!
    "Null when the test images are all of one label"
    auroc: Float
    "Pixel-level AUROC, when test anomalies have masks"
    pixelAuroc: Float
    "The image threshold in the engine's raw score units (scores are normalised so that it is 0.5)"
    threshold: Float!
    truePositives: Int!
    falsePositives: Int!
    trueNegatives: Int!
    falseNegatives: Int!
    testImages: Int!
  }

  type ModelArtifact {
    "sha256 of the artifact bytes (also its object key)"
    sha256: String!
    bytes: Float!
  }

  "The images a version was trained and tested on."
  type ModelTrainingData {
    trainNormal: Int!
    trainAnomaly: Int!
    testNormal: Int!
    testAnomaly: Int!
    ignoredUnlabelled: Int!
    "True when the project had no test dataset and a seeded stratified share of the train dataset was held out"
    splitFromTrain: Boolean!
  }

  type ModelTimings {
    loadingSeconds: Float!
    trainingSeconds: Float!
    evaluationSeconds: Float!
    totalSeconds: Float!
  }

  type ModelLogLine {
    at: DateTime!
    level: String!
    message: String!
  }

  "One test image's result, so a user can see why the model erred."
  type ModelEvaluation {
    image: Image!
    expected: Verdict!
    "Normalised anomaly score in [0,1]; 0.5 is the threshold"
    score: Float!
    rawScore: Float!
    verdict: Verdict!
    correct: Boolean!
  }

  type ModelEvaluationConnection {
    nodes: [ModelEvaluation!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }

  type ModelVersion @key(fields: "id") {
    id: ID!
    "1, 2, 3… within the project"
    version: Int!
    project: Project!
    status: ModelStatus!
    statusMessage: String
    description: String
    createdAt: DateTime!
    trainedAt: DateTime
    createdBy: String!
    "The training job's progress (percent and the current step)"
    progress: JobProgress!
    jobStatus: JobStatus
    metrics: ModelMetrics
    artifact: ModelArtifact
    "sha256 over the exact (role, image, label, mask) entries the version was trained and tested on"
    datasetDigest: String
    "The size of every training image; detection requires it. Null when they had mixed sizes (any size accepted)"
    imageSize: ImageSize
    trainingData: ModelTrainingData
    timings: ModelTimings
    evaluation(first: Int = 50, after: String, onlyWrong: Boolean = false): ModelEvaluationConnection!
    "The latest training log lines (bounded)"
    logs: [ModelLogLine!]!
  }

  type ImageSize {
    width: Int!
    height: Int!
  }

  input ProjectRef {
    id: ID
    name: String
  }

  input ThresholdPolicyInput {
    mode: ThresholdMode!
    "For FALSE_REJECT_RATE and MISS_RATE: the target, between 0 and 1"
    rate: Float
  }

  "Engine settings to pin; unset ones take the engine's defaults."
  input EngineSettingsInput {
    inputSize: Int
    topK: Int
    coresetRatio: Float
    aggregation: Int
    reweight: Boolean
    seed: Int
  }

  input CreateModelInput {
    project: ProjectRef!
    description: String
    "A retried request with the same key returns the first version instead of training another"
    idempotencyKey: String
    threshold: ThresholdPolicyInput
    engine: EngineSettingsInput
  }

  enum ModelPackagingJobStatus {
    CREATED
    RUNNING
    SUCCEEDED
    FAILED
  }

  type ModelPackagingFile {
    "Object key in the output bucket"
    key: String!
    sha256: String!
    bytes: Int!
  }

  "An edge package of a trained version (ONNX model, preprocessing, runner), written to an S3 location"
  type ModelPackagingJob {
    id: ID!
    "Unique within the project"
    name: String!
    project: Project!
    modelVersionNumber: Int!
    description: String
    status: ModelPackagingJobStatus!
    statusMessage: String
    outputBucket: String!
    outputPrefix: String!
    componentName: String!
    componentVersion: String!
    "The configuration as given, JSON text (e.g. Lookout's Greengrass settings)"
    configuration: String
    files: [ModelPackagingFile!]!
    createdBy: String!
    createdAt: DateTime!
    updatedAt: DateTime!
  }

  type ModelPackagingJobConnection {
    nodes: [ModelPackagingJob!]!
    pageInfo: PageInfo!
  }

  input StartModelPackagingJobInput {
    project: ProjectRef!
    "The version to package; it must be trained"
    version: Int!
    "Default: <project>-<version>-<timestamp>"
    name: String
    description: String
    outputBucket: String!
    outputPrefix: String
    "Default: <project>-model"
    componentName: String
    "MAJOR.MINOR.PATCH; default 1.0.<version>"
    componentVersion: String
    "JSON text kept with the job"
    configuration: String
  }

  type Query {
    "A model version; NOT_FOUND when there is none"
    modelVersion(id: ID!): ModelVersion!
    "NOT_FOUND when there is none"
    modelPackagingJob(project: ProjectRef!, name: String!): ModelPackagingJob!
    "Oldest first"
    modelPackagingJobs(project: ProjectRef!, first: Int = 50, after: String): ModelPackagingJobConnection!
  }

  type Mutation {
    "Trains a new version of the project's model in the background (TRAINING, then TRAINED or TRAINING_FAILED)"
    createModel(input: CreateModelInput!): ModelVersion!
    "Stops a training; the version becomes TRAINING_FAILED with a 'cancelled' message"
    cancelModelTraining(id: ID!): ModelVersion!
    "Deletes a version that is not hosted (admin)"
    deleteModel(id: ID!): ModelVersion!
    "Writes an edge package of a trained version to S3 in the background (CREATED, RUNNING, SUCCEEDED or FAILED)"
    startModelPackagingJob(input: StartModelPackagingJobInput!): ModelPackagingJob!
  }
`);
