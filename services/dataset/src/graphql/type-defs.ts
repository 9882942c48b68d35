import { parse } from 'graphql';
import { SHARED_TYPE_DEFS } from '@vigil/service-kit';

export const typeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])

  ${SHARED_TYPE_DEFS}

  enum DatasetType {
    TRAIN
    TEST
  }

  enum EntryLabel {
    NORMAL
    ANOMALY
    UNLABELLED
  }

  "An image, owned by the ingestion subgraph."
  type Image @key(fields: "id", resolvable: false) {
    id: ID!
  }

  type Project @key(fields: "id") {
    id: ID!
    "Unique; 1-255 letters, digits, - and _ (Lookout's rule)."
    name: String!
    description: String
    createdAt: DateTime!
    updatedAt: DateTime!
    createdBy: String!
    datasets: [Dataset!]!
    dataset(type: DatasetType!): Dataset
  }

  type ProjectConnection {
    nodes: [Project!]!
    pageInfo: PageInfo!
  }

  type Dataset @key(fields: "id") {
    id: ID!
    project: Project!
    type: DatasetType!
    stats: DatasetStats!
    entries(label: EntryLabel, hasMask: Boolean, first: Int = 50, after: String): DatasetEntryConnection!
    createdAt: DateTime!
    updatedAt: DateTime!
  }

  type DatasetStats {
    total: Int!
    normal: Int!
    anomaly: Int!
    unlabelled: Int!
    withMask: Int!
  }

  type DefectClass {
    name: String!
    "#RRGGBB, the colour this class is painted in the mask"
    color: String!
  }

  type SegmentationMask {
    "Object key of the mask PNG in the object store"
    objectKey: String!
    classes: [DefectClass!]!
  }

  type DatasetEntry @key(fields: "id") {
    id: ID!
    dataset: Dataset!
    image: Image!
    label: EntryLabel!
    mask: SegmentationMask
    "Where the entry came from: a manifest source-ref, an S3 URI or a path"
    sourceRef: String
    createdAt: DateTime!
    updatedAt: DateTime!
  }

  type DatasetEntryConnection {
    nodes: [DatasetEntry!]!
    pageInfo: PageInfo!
  }

  type ImportWarning {
    "1-based manifest line, when the warning is about one"
    line: Int
    item: String
    message: String!
  }

  type ImportFailure {
    line: Int
    item: String!
    code: String!
    message: String!
  }

  type DatasetImportSummary {
    layout: String
    entriesCreated: Int!
    entriesUpdated: Int!
    imagesStored: Int!
    imagesDeduplicated: Int!
    masks: Int!
    byDataset: [DatasetImportCount!]!
    warnings: [ImportWarning!]!
    failures: [ImportFailure!]!
  }

  type DatasetImportCount {
    type: DatasetType!
    normal: Int!
    anomaly: Int!
    unlabelled: Int!
  }

  "A background import of labelled images into a project's datasets."
  type DatasetImportJob @key(fields: "id") {
    id: ID!
    status: JobStatus!
    progress: JobProgress!
    summary: DatasetImportSummary
    error: JobError
    source: String!
    createdBy: String!
    createdAt: DateTime!
    startedAt: DateTime
    finishedAt: DateTime
  }

  type SplitResult {
    moved: Int!
    train: DatasetStats!
    test: DatasetStats!
  }

  type ManifestExport {
    "JSON lines, one entry a line, in the Lookout / Ground Truth format"
    manifest: String!
    lines: Int!
  }

  input ProjectRef {
    id: ID
    name: String
  }

  input CreateProjectInput {
    name: String!
    description: String
  }

  input UpdateProjectInput {
    description: String
  }

  input DatasetEntryInput {
    imageId: ID!
    label: EntryLabel!
  }

  input ImportManifestInput {
    project: ProjectRef!
    "The dataset the entries go to"
    datasetType: DatasetType!
    "Manifest location: s3://bucket/key, a server-side file path, or omit and give manifestText"
    manifestUri: String
    "The manifest itself, as JSON lines"
    manifestText: String
    "Where relative source-refs resolve from when manifestText is given (s3://bucket/prefix or a folder path)"
    baseUri: String
    "Keep the good lines when some fail (default: all-or-nothing)"
    allowPartial: Boolean = false
    idempotencyKey: String
  }

  input ImportFolderInput {
    project: ProjectRef!
    "A server-side folder path or s3://bucket/prefix, in the Lookout, MVTec AD or plain layout"
    source: String!
    "For a plain folder (no train/test in its layout): the dataset to fill (default TRAIN)"
    datasetType: DatasetType
    "For a plain folder: the label of every image (default UNLABELLED)"
    label: EntryLabel
    "For a plain folder: label each image from its file name (normal/good/ok vs anomaly/defect/bad/ng), e.g. test-anomaly-3.jpg"
    labelFromFileName: Boolean = false
    idempotencyKey: String
  }

  type Query {
    projects(first: Int = 50, after: String): ProjectConnection!
    "A project by id or name; NOT_FOUND when there is none"
    project(id: ID, name: String): Project!
    dataset(id: ID!): Dataset!
    datasetEntry(id: ID!): DatasetEntry!
    datasetImportJob(id: ID!): DatasetImportJob!
    exportManifest(datasetId: ID!): ManifestExport!
  }

  type Mutation {
    createProject(input: CreateProjectInput!): Project!
    updateProject(id: ID!, input: UpdateProjectInput!): Project!
    deleteProject(id: ID!): Project!
    createDataset(projectId: ID!, type: DatasetType!): Dataset!
    deleteDataset(id: ID!): Dataset!
    addDatasetEntries(datasetId: ID!, entries: [DatasetEntryInput!]!): [DatasetEntry!]!
    relabelDatasetEntries(entryIds: [ID!]!, label: EntryLabel!): [DatasetEntry!]!
    removeDatasetEntries(entryIds: [ID!]!): Int!
    "Moves a seeded, label-stratified share of the train dataset into an empty test dataset"
    splitDataset(projectId: ID!, testFraction: Float = 0.2, seed: Int = 42): SplitResult!
    importManifest(input: ImportManifestInput!): DatasetImportJob!
    importFolder(input: ImportFolderInput!): DatasetImportJob!
    cancelDatasetImport(id: ID!): DatasetImportJob!
  }
`);
