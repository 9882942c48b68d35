/**
 * Types several subgraphs declare. Federation requires every declaration of a shared (@shareable) type to
 * be identical, so they are written once here and spliced into each subgraph's SDL. A subgraph using them
 * must import `@shareable` in its `@link`.
 */
export const SHARED_TYPE_DEFS = /* GraphQL */ `
  scalar DateTime

  enum JobStatus {
    QUEUED
    RUNNING
    SUCCEEDED
    FAILED
    CANCELLED
  }

  type PageInfo @shareable {
    hasNextPage: Boolean!
    endCursor: String
  }

  type JobProgress @shareable {
    done: Int!
    total: Int
    step: String
    "0-100 when the total is known"
    percent: Float
  }

  type JobError @shareable {
    code: String!
    message: String!
  }
`;
