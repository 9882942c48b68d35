import type { JobRow } from '@vigil/db';
import type { Logger } from './logger';

/** What a job handler receives besides its payload. */
export interface JobContext {
  readonly jobId: string;
  readonly signal: AbortSignal;
  progress(done: number, total?: number, step?: string): void;
  readonly log: Logger;
}

/** Returns the job's summary (JSON-serialisable); throws a VigilError to fail it. */
export type JobHandler = (payload: unknown, context: JobContext) => Promise<unknown>;

/**
 * The job system as services see it: submit and read durable jobs, and register the handlers this
 * process runs. Implemented by @vigil/queue (in-process or BullMQ transport).
 */
export interface JobSystem {
  submit(input: {
    queue: string;
    kind: string;
    payload: unknown;
    createdBy: string;
    idempotencyKey?: string;
  }): Promise<JobRow>;
  get(id: string): Promise<JobRow | undefined>;
  cancel(id: string): Promise<JobRow | undefined>;
  register(queue: string, kind: string, handler: JobHandler): void;
}
