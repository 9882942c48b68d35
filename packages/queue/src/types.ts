import type { JobRow } from '@vigil/db';

export type { JobRow };

export const JobStatus = {
  Queued: 'queued',
  Running: 'running',
  Succeeded: 'succeeded',
  Failed: 'failed',
  Cancelled: 'cancelled',
} as const;
export type JobStatus = (typeof JobStatus)[keyof typeof JobStatus];

export const TERMINAL_STATUSES: readonly JobStatus[] = [JobStatus.Succeeded, JobStatus.Failed, JobStatus.Cancelled];

export function isTerminalStatus(status: string): boolean {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

export interface NewJob {
  readonly queue: string;
  readonly kind: string;
  /** A JSON value; stored as jsonb. */
  readonly payload: unknown;
  readonly createdBy: string;
  /**
   * A second create() with the same key returns the first job instead of a new row (when queue, kind,
   * createdBy and payload match; otherwise CONFLICT). Keys are global: callers should namespace them.
   */
  readonly idempotencyKey?: string | null;
}

export interface CreatedJob {
  readonly job: JobRow;
  /** False when an existing job with the same idempotency key was returned. */
  readonly created: boolean;
}

export interface JobListQuery {
  readonly queue?: string | readonly string[];
  readonly status?: JobStatus | readonly JobStatus[];
  readonly kind?: string;
  readonly createdBy?: string;
  /** By creation time; newest first unless told otherwise. */
  readonly order?: 'newest' | 'oldest';
  /** 1..500, default 50. */
  readonly limit?: number;
  /** nextCursor of the previous page. */
  readonly cursor?: string | null;
  /** Only rows not updated for at least this long (by the store's clock): abandoned running jobs. */
  readonly idleForMs?: number;
}

export interface JobPage {
  readonly items: readonly JobRow[];
  readonly nextCursor: string | null;
}

export interface JobProgress {
  readonly done: number;
  readonly total?: number | null;
  readonly step?: string | null;
}

/** What jobs.error holds. */
export interface JobErrorInfo {
  readonly code: string;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** Whether another attempt follows. */
  readonly retryable: boolean;
  /** The attempt (1-based) that failed. */
  readonly attempt: number;
}

/**
 * Durable job state. Every transition is conditional on the current status, so a late writer (a handler
 * that finishes after its job was cancelled or handed back at shutdown) cannot overwrite a newer state.
 */
export interface JobStore {
  create(job: NewJob): Promise<CreatedJob>;
  get(id: string): Promise<JobRow | null>;
  list(query?: JobListQuery): Promise<JobPage>;
  /**
   * queued|running -> running, attempts + 1, progress reset. A running row was interrupted (crash, stalled
   * worker, lost Redis) and is taken over; with `staleAfterMs`, only when it has not been updated (progress
   * or heartbeat) for that long, so two workers never claim the same live job. Null when the job is missing,
   * finished, or running under a fresh lease, or (with `maxAttempts`) has used that many attempts already.
   */
  markRunning(
    id: string,
    options?: { readonly staleAfterMs?: number; readonly maxAttempts?: number },
  ): Promise<JobRow | null>;
  /** Refreshes updated_at of those rows that are still running: the lease of a live worker. Returns how many. */
  heartbeat(ids: readonly string[]): Promise<number>;
  /** Only while running; false means the job is no longer running (e.g. cancelled elsewhere). */
  reportProgress(id: string, progress: JobProgress): Promise<boolean>;
  /** running -> succeeded. Null when the job was not running. */
  succeed(id: string, summary: unknown): Promise<JobRow | null>;
  /**
   * running|queued -> queued (retryable: another attempt follows) or failed. Null when neither; with
   * `staleAfterMs`, also null for a running row whose lease is fresh (see markRunning).
   */
  fail(
    id: string,
    error: JobErrorInfo,
    options: { readonly retryable: boolean; readonly staleAfterMs?: number },
  ): Promise<JobRow | null>;
  /** queued|running -> cancelled; a finished job is returned unchanged; null when missing. */
  cancel(id: string): Promise<JobRow | null>;
  /** running -> queued, giving the attempt back: used at shutdown for jobs that did not finish in time. */
  release(id: string): Promise<JobRow | null>;
  /**
   * failed -> queued with a fresh attempts budget (attempts 0, progress and finish time cleared; the last
   * error stays until the job succeeds). Null when the job is missing or not failed.
   */
  replay(id: string): Promise<JobRow | null>;
}
