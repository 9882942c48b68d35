export {
  createInferenceService,
  inferenceConfigFrom,
  type InferenceModule,
  type InferenceDeps,
  type InferenceConfig,
} from './module';
export { typeDefs as inferenceTypeDefs } from './graphql/type-defs';
export { InferenceQueue, InferenceJobKind } from './jobs/payloads';
