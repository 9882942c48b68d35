import type { Principal } from '@vigil/contracts';
import type { JobRow } from '@vigil/db';
import { pageSize, type AuditTrail, type Page } from '@vigil/service-kit';
import type { DeadLetterQuery, JobPage } from '@vigil/queue';

/** What the dead-letter desk needs of the job system (a @vigil/queue JobRunner). */
export interface DeadLetterJobs {
  deadLetters(query: DeadLetterQuery): Promise<JobPage>;
  replay(jobId: string): Promise<JobRow>;
}

export interface DeadLetterFilter {
  readonly queue?: string | null;
  readonly kind?: string | null;
}

/** A job that failed for good, as the API shows it. */
export interface DeadLetter {
  readonly id: string;
  readonly queue: string;
  readonly kind: string;
  readonly status: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details: unknown;
    readonly retryable: boolean | null;
    readonly attempt: number | null;
  } | null;
  readonly attempts: number;
  readonly payload: unknown;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly updatedAt: Date;
}

export function toDeadLetter(row: JobRow): DeadLetter {
  return {
    id: row.id,
    queue: row.queue,
    kind: row.kind,
    status: row.status.toUpperCase() as DeadLetter['status'],
    error: toError(row.error),
    attempts: row.attempts,
    payload: row.payload,
    createdBy: row.created_by,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    updatedAt: row.updated_at,
  };
}

function toError(value: unknown): DeadLetter['error'] {
  if (!value || typeof value !== 'object') return null;
  const record = value as Record<string, unknown>;
  return {
    code: String(record['code'] ?? 'INTERNAL'),
    message: String(record['message'] ?? 'the job failed'),
    details: record['details'] ?? null,
    retryable: typeof record['retryable'] === 'boolean' ? record['retryable'] : null,
    attempt: typeof record['attempt'] === 'number' ? record['attempt'] : null,
  };
}

/**
 * Dead letters: jobs that failed for good (a non-retryable error, or every attempt used). An admin lists
 * them and replays one; a replay is a new attempt with a renewed budget, and lands in the audit trail.
 * Roles are checked by the resolvers.
 */
export class DeadLetterService {
  constructor(
    private readonly jobs: DeadLetterJobs,
    private readonly audit: AuditTrail,
  ) {}

  async list(filter: DeadLetterFilter, first?: number | null, after?: string | null): Promise<Page<DeadLetter>> {
    const page = await this.jobs.deadLetters({
      ...(filter.queue ? { queue: filter.queue } : {}),
      ...(filter.kind ? { kind: filter.kind } : {}),
      limit: pageSize(first),
      cursor: after ?? null,
    });
    return {
      nodes: page.items.map(toDeadLetter),
      pageInfo: { hasNextPage: page.nextCursor !== null, endCursor: page.nextCursor },
    };
  }

  async replay(jobId: string, actor: Principal, requestId?: string): Promise<DeadLetter> {
    const replayed = await this.jobs.replay(jobId);
    const view = toDeadLetter(replayed);
    await this.audit.record({
      actor,
      action: 'job.replay',
      entityType: 'job',
      entityId: replayed.id,
      // The row no longer carries its attempts count once replayed; the failure it had does.
      before: { status: 'FAILED', error: view.error },
      after: { status: view.status, queue: view.queue, kind: view.kind },
      ...(requestId ? { requestId } : {}),
    });
    return view;
  }
}
