import { parse } from 'graphql';
import { SHARED_TYPE_DEFS } from '@vigil/service-kit';

export const typeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])

  ${SHARED_TYPE_DEFS}

  enum ImageFormat {
    JPEG
    PNG
    TIFF
    BMP
  }

  "An image, stored once by content: its id is the sha256 of its bytes."
  type Image @key(fields: "id") {
    id: ID!
    format: ImageFormat!
    "Width and height as displayed (EXIF orientation applied)"
    width: Int!
    height: Int!
    channels: Int!
    bitDepth: Int!
    byteSize: Int!
    originalName: String
    line: String
    station: String
    camera: String
    lot: String
    capturedAt: DateTime
    tags: [String!]!
    createdAt: DateTime!
    createdBy: String!
    "Path on the gateway that serves the original bytes"
    contentPath: String!
  }

  type ImageConnection {
    nodes: [Image!]!
    pageInfo: PageInfo!
  }

  input ImageFilter {
    line: String
    station: String
    camera: String
    lot: String
    tag: String
    capturedAfter: DateTime
    capturedBefore: DateTime
  }

  input CaptureMetadataInput {
    line: String
    station: String
    camera: String
    lot: String
    capturedAt: DateTime
    tags: [String!]
  }

  input ImportImagesInput {
    "A server-side folder path or s3://bucket/prefix; every image below it is imported"
    source: String!
    "Applied to every imported image"
    metadata: CaptureMetadataInput
    idempotencyKey: String
  }

  type ImageImportFailure {
    item: String!
    code: String!
    message: String!
  }

  type ImageImportSummary {
    imported: Int!
    deduplicated: Int!
    failed: Int!
    "Files that are not images by name (kept out before reading)"
    skipped: Int!
    failures: [ImageImportFailure!]!
  }

  "A background bulk import of images (no labels; see importFolder for datasets)."
  type ImageImportJob @key(fields: "id") {
    id: ID!
    status: JobStatus!
    progress: JobProgress!
    summary: ImageImportSummary
    error: JobError
    source: String!
    createdBy: String!
    createdAt: DateTime!
    startedAt: DateTime
    finishedAt: DateTime
  }

  type Query {
    "An image by id (sha256); NOT_FOUND when there is none"
    image(id: ID!): Image!
    images(filter: ImageFilter, first: Int = 50, after: String): ImageConnection!
    imageImportJob(id: ID!): ImageImportJob!
  }

  type Mutation {
    importImages(input: ImportImagesInput!): ImageImportJob!
    cancelImageImport(id: ID!): ImageImportJob!
  }
`);
