export {
  DeadLetterService,
  toDeadLetter,
  type DeadLetter,
  type DeadLetterFilter,
  type DeadLetterJobs,
} from './dead-letters';
export { openOperationsJobs, type OperationsJobs } from './jobs';
export { OPERATIONS_SUBGRAPH, operationsSubgraph, operationsTypeDefs } from './subgraph';
