import { randomUUID } from 'node:crypto';
import { errors } from '@vigil/contracts';
import { asList, decodeCursor, encodeCursor, isUuid, pageSize } from '../json';
import { assertSameRequest, normaliseNewJob } from '../new-job';
import {
  JobStatus,
  type CreatedJob,
  type JobErrorInfo,
  type JobListQuery,
  type JobPage,
  type JobProgress,
  type JobRow,
  type JobStore,
  type NewJob,
} from '../types';

/**
 * A JobStore in memory with the same rules as JobRepository (it passes the same contract suite), for
 * unit tests of services and of the runner. Rows handed out are copies, as from a database.
 */
export class InMemoryJobStore implements JobStore {
  private readonly rows = new Map<string, JobRow>();
  private lastCreatedAt = 0;
  /** Every write, in order, for tests that count them (e.g. progress throttling). */
  readonly writes: { readonly method: string; readonly id: string }[] = [];

  async create(input: NewJob): Promise<CreatedJob> {
    const job = normaliseNewJob(input);
    if (job.idempotencyKey !== null) {
      const existing = [...this.rows.values()].find((row) => row.idempotency_key === job.idempotencyKey);
      if (existing) {
        assertSameRequest(existing, job);
        return { job: copy(existing), created: false };
      }
    }
    // Strictly increasing, so creation order is total like Postgres' microsecond timestamps.
    this.lastCreatedAt = Math.max(Date.now(), this.lastCreatedAt + 1);
    const now = new Date(this.lastCreatedAt);
    const row: JobRow = {
      id: randomUUID(),
      queue: job.queue,
      kind: job.kind,
      status: JobStatus.Queued,
      payload: job.payload,
      progress_done: 0,
      progress_total: null,
      progress_step: null,
      summary: null,
      error: null,
      attempts: 0,
      idempotency_key: job.idempotencyKey,
      created_by: job.createdBy,
      created_at: now,
      started_at: null,
      finished_at: null,
      updated_at: now,
    };
    this.rows.set(row.id, row);
    this.writes.push({ method: 'create', id: row.id });
    return { job: copy(row), created: true };
  }

  async get(id: string): Promise<JobRow | null> {
    const row = this.rows.get(id.toLowerCase());
    return row ? copy(row) : null;
  }

  async list(query: JobListQuery = {}): Promise<JobPage> {
    const limit = pageSize(query.limit);
    const newestFirst = (query.order ?? 'newest') === 'newest';
    const queues = asList(query.queue);
    const statuses = asList(query.status) as readonly string[] | undefined;
    let rows = [...this.rows.values()]
      .filter((row) => !queues || queues.includes(row.queue))
      .filter((row) => !statuses || statuses.includes(row.status))
      .filter((row) => query.kind === undefined || row.kind === query.kind)
      .filter((row) => query.createdBy === undefined || row.created_by === query.createdBy)
      .filter((row) => query.idleForMs === undefined || row.updated_at.getTime() < Date.now() - query.idleForMs)
      .sort((a, b) => compareRows(a, b) * (newestFirst ? -1 : 1));
    if (query.cursor) {
      const anchor = this.rows.get(decodeCursor(query.cursor));
      if (!anchor) throw errors.badInput('cursor refers to a job that no longer exists', { cursor: query.cursor });
      rows = rows.filter((row) => compareRows(row, anchor) * (newestFirst ? -1 : 1) > 0);
    }
    const items = rows.slice(0, limit).map(copy);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
  }

  async markRunning(
    id: string,
    options: { readonly staleAfterMs?: number; readonly maxAttempts?: number } = {},
  ): Promise<JobRow | null> {
    if (this.leaseHeld(id, options.staleAfterMs)) return null;
    const maxAttempts = options.maxAttempts;
    const current = isUuid(id) ? this.rows.get(id.toLowerCase()) : undefined;
    if (maxAttempts !== undefined && current && current.attempts >= maxAttempts) return null;
    return this.transition(id, 'markRunning', [JobStatus.Queued, JobStatus.Running], (row) => ({
      status: JobStatus.Running,
      attempts: row.attempts + 1,
      progress_done: 0,
      progress_total: null,
      progress_step: null,
      started_at: new Date(),
    }));
  }

  async heartbeat(ids: readonly string[]): Promise<number> {
    let count = 0;
    for (const id of ids) if (await this.transition(id, 'heartbeat', [JobStatus.Running], () => ({}))) count += 1;
    return count;
  }

  async reportProgress(id: string, progress: JobProgress): Promise<boolean> {
    const row = await this.transition(id, 'reportProgress', [JobStatus.Running], () => ({
      progress_done: progress.done,
      progress_total: progress.total ?? null,
      progress_step: progress.step ?? null,
    }));
    return row !== null;
  }

  async succeed(id: string, summary: unknown): Promise<JobRow | null> {
    return this.transition(id, 'succeed', [JobStatus.Running], () => ({
      status: JobStatus.Succeeded,
      summary: roundTrip(summary ?? null),
      error: null,
      finished_at: new Date(),
    }));
  }

  async fail(
    id: string,
    error: JobErrorInfo,
    options: { readonly retryable: boolean; readonly staleAfterMs?: number },
  ): Promise<JobRow | null> {
    if (this.leaseHeld(id, options.staleAfterMs)) return null;
    return this.transition(id, 'fail', [JobStatus.Running, JobStatus.Queued], () => ({
      status: options.retryable ? JobStatus.Queued : JobStatus.Failed,
      error: roundTrip(error),
      finished_at: options.retryable ? null : new Date(),
    }));
  }

  async cancel(id: string): Promise<JobRow | null> {
    const row = await this.transition(id, 'cancel', [JobStatus.Queued, JobStatus.Running], () => ({
      status: JobStatus.Cancelled,
      finished_at: new Date(),
    }));
    return row ?? (await this.get(id));
  }

  async release(id: string): Promise<JobRow | null> {
    return this.transition(id, 'release', [JobStatus.Running], (row) => ({
      status: JobStatus.Queued,
      attempts: Math.max(row.attempts - 1, 0),
    }));
  }

  async replay(id: string): Promise<JobRow | null> {
    return this.transition(id, 'replay', [JobStatus.Failed], () => ({
      status: JobStatus.Queued,
      attempts: 0,
      progress_done: 0,
      progress_total: null,
      progress_step: null,
      started_at: null,
      finished_at: null,
    }));
  }

  /** Test hook: put a row into any state, e.g. 'running' to simulate a process that crashed mid-job. */
  forceUpdate(id: string, changes: Partial<JobRow>): void {
    const row = this.rows.get(id);
    if (!row) throw errors.notFound('job', id);
    this.rows.set(id, { ...row, ...changes });
  }

  /** A running row updated less than staleAfterMs ago: a live worker holds it. */
  private leaseHeld(id: string, staleAfterMs: number | undefined): boolean {
    if (staleAfterMs === undefined || !isUuid(id)) return false;
    const row = this.rows.get(id.toLowerCase());
    return row?.status === JobStatus.Running && row.updated_at.getTime() >= Date.now() - staleAfterMs;
  }

  private async transition(
    id: string,
    method: string,
    from: readonly string[],
    change: (row: JobRow) => Partial<JobRow>,
  ): Promise<JobRow | null> {
    if (!isUuid(id)) return null;
    const row = this.rows.get(id.toLowerCase());
    if (!row || !from.includes(row.status)) return null;
    const updated: JobRow = { ...row, ...change(row), updated_at: new Date() };
    this.rows.set(row.id, updated);
    this.writes.push({ method, id: row.id });
    return copy(updated);
  }
}

function compareRows(a: JobRow, b: JobRow): number {
  const byTime = a.created_at.getTime() - b.created_at.getTime();
  if (byTime !== 0) return byTime;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function roundTrip(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

function copy(row: JobRow): JobRow {
  return {
    ...row,
    payload: roundTrip(row.payload),
    summary: row.summary === null ? null : roundTrip(row.summary),
    error: row.error === null ? null : roundTrip(row.error),
    created_at: new Date(row.created_at),
    started_at: row.started_at ? new Date(row.started_at) : null,
    finished_at: row.finished_at ? new Date(row.finished_at) : null,
    updated_at: new Date(row.updated_at),
  };
}
