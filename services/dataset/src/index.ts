export { createDatasetService, type DatasetModule, type DatasetDeps, type DatasetConfig } from './module';
export { typeDefs as datasetTypeDefs } from './graphql/type-defs';
export { DatasetQueue, DatasetJobKind } from './imports/payloads';
