export { createIngestionService, type IngestionService, type IngestionDeps, type IngestionConfig } from './module';
export { typeDefs as ingestionTypeDefs } from './graphql/type-defs';
export { IngestionQueue, IngestionJobKind } from './imports/payloads';
