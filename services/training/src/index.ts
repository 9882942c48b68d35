export { createTrainingService, type TrainingModule, type TrainingDeps, type TrainingConfig } from './module';
export { typeDefs as trainingTypeDefs } from './graphql/type-defs';
export { TrainingQueue, TrainingJobKind } from './jobs/payloads';
export { ModelStatus } from './domain/statuses';
