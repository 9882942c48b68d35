export {
  JobStatus,
  TERMINAL_STATUSES,
  isTerminalStatus,
  type CreatedJob,
  type JobErrorInfo,
  type JobListQuery,
  type JobPage,
  type JobProgress,
  type JobRow,
  type JobStore,
  type NewJob,
} from './types';
export { JobRepository } from './job-repository';
export type { DeliverJob, DeliveryOutcome, JobRef, JobTransport } from './transport';
export { InProcessTransport, type InProcessTransportOptions } from './in-process-transport';
export { BullMqTransport, type BullMqTransportOptions } from './bullmq-transport';
export {
  JobAbortedError,
  JobRunner,
  type JobContext,
  type JobHandler,
  type JobRunnerOptions,
  type DeadLetterQuery,
  type ReconcileResult,
  type RegisterOptions,
  type SubmitJob,
} from './job-runner';
export { NON_RETRYABLE_CODES, backoffDelayMs, isRetryableError, toJobError, type BackoffOptions } from './retry';
export { assertJobName } from './new-job';
