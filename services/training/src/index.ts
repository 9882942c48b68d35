export { createTrainingService, type TrainingModule, type TrainingDeps, type TrainingConfig } from './module';
export { typeDefs as trainingTypeDefs } from './graphql/type-defs';
export { TrainingQueue, TrainingJobKind } from './jobs/payloads';
export { ModelStatus } from './domain/statuses';
export { s3PackageWriter } from './packaging/s3-writer';
export type { PackageWriter } from './packaging/service';
