import { errors } from '@vigil/contracts';
import { sql, type Database, type Kysely } from '@vigil/db';
import { asList, decodeCursor, encodeCursor, isUuid, pageSize } from './json';
import { assertSameRequest, normaliseNewJob } from './new-job';
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
} from './types';

/** The jobs table (see @vigil/db migration 0001) as a JobStore; works on Postgres and PGlite alike. */
export class JobRepository implements JobStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(input: NewJob): Promise<CreatedJob> {
    const job = normaliseNewJob(input);
    const values = {
      queue: job.queue,
      kind: job.kind,
      status: JobStatus.Queued,
      payload: JSON.stringify(job.payload),
      created_by: job.createdBy,
      idempotency_key: job.idempotencyKey,
      // The table has defaults for these, but the schema types them as required on insert.
      progress_done: 0,
      attempts: 0,
    };
    if (job.idempotencyKey === null) {
      const row = await this.db.insertInto('jobs').values(values).returningAll().executeTakeFirstOrThrow();
      return { job: row, created: true };
    }
    const inserted = await this.db
      .insertInto('jobs')
      .values(values)
      .onConflict((conflict) => conflict.column('idempotency_key').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted) return { job: inserted, created: true };
    const existing = await this.db
      .selectFrom('jobs')
      .selectAll()
      .where('idempotency_key', '=', job.idempotencyKey)
      .executeTakeFirst();
    if (!existing) {
      // Only possible if the row was deleted between the two statements.
      throw errors.conflict(`job with idempotency key '${job.idempotencyKey}' changed concurrently; try again`);
    }
    assertSameRequest(existing, job);
    return { job: existing, created: false };
  }

  async get(id: string): Promise<JobRow | null> {
    if (!isUuid(id)) return null;
    return (await this.db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst()) ?? null;
  }

  async list(query: JobListQuery = {}): Promise<JobPage> {
    const limit = pageSize(query.limit);
    const newestFirst = (query.order ?? 'newest') === 'newest';
    let select = this.db.selectFrom('jobs').selectAll();
    const queues = asList(query.queue);
    if (queues) select = queues.length === 0 ? select.where(sql<boolean>`false`) : select.where('queue', 'in', queues);
    const statuses = asList(query.status);
    if (statuses) {
      select = statuses.length === 0 ? select.where(sql<boolean>`false`) : select.where('status', 'in', statuses);
    }
    if (query.kind !== undefined) select = select.where('kind', '=', query.kind);
    if (query.createdBy !== undefined) select = select.where('created_by', '=', query.createdBy);
    if (query.idleForMs !== undefined) select = select.where('updated_at', '<', idleSince(query.idleForMs));
    if (query.cursor) {
      const cursorId = decodeCursor(query.cursor);
      const anchor = await this.db.selectFrom('jobs').select('id').where('id', '=', cursorId).executeTakeFirst();
      if (!anchor) throw errors.badInput('cursor refers to a job that no longer exists', { cursor: query.cursor });
      // Compared in SQL: timestamptz has microseconds, a JS Date only milliseconds.
      select = select.where(
        newestFirst
          ? sql<boolean>`(created_at, id) < (select c.created_at, c.id from jobs c where c.id = ${cursorId})`
          : sql<boolean>`(created_at, id) > (select c.created_at, c.id from jobs c where c.id = ${cursorId})`,
      );
    }
    const direction = newestFirst ? 'desc' : 'asc';
    const rows = await select
      .orderBy('created_at', direction)
      .orderBy('id', direction)
      .limit(limit + 1)
      .execute();
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.id) : null };
  }

  async markRunning(
    id: string,
    options: { readonly staleAfterMs?: number; readonly maxAttempts?: number } = {},
  ): Promise<JobRow | null> {
    if (!isUuid(id)) return null;
    const { staleAfterMs, maxAttempts } = options;
    const row = await this.db
      .updateTable('jobs')
      .set((eb) => ({
        status: JobStatus.Running,
        attempts: eb('attempts', '+', 1),
        progress_done: 0,
        progress_total: null,
        progress_step: null,
        started_at: sql<Date>`now()`,
        updated_at: sql<Date>`now()`,
      }))
      .where('id', '=', id)
      .where(unclaimed(staleAfterMs))
      .where(maxAttempts === undefined ? sql<boolean>`true` : sql<boolean>`attempts < ${maxAttempts}`)
      .returningAll()
      .executeTakeFirst();
    return row ?? null;
  }

  async heartbeat(ids: readonly string[]): Promise<number> {
    const valid = ids.filter(isUuid);
    if (valid.length === 0) return 0;
    const result = await this.db
      .updateTable('jobs')
      .set({ updated_at: sql<Date>`now()` })
      .where('id', 'in', valid)
      .where('status', '=', JobStatus.Running)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async reportProgress(id: string, progress: JobProgress): Promise<boolean> {
    if (!isUuid(id)) return false;
    const result = await this.db
      .updateTable('jobs')
      .set({
        progress_done: progress.done,
        progress_total: progress.total ?? null,
        progress_step: progress.step ?? null,
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', id)
      .where('status', '=', JobStatus.Running)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async succeed(id: string, summary: unknown): Promise<JobRow | null> {
    if (!isUuid(id)) return null;
    const row = await this.db
      .updateTable('jobs')
      .set({
        status: JobStatus.Succeeded,
        summary: JSON.stringify(summary ?? null),
        error: null,
        finished_at: sql<Date>`now()`,
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', id)
      .where('status', '=', JobStatus.Running)
      .returningAll()
      .executeTakeFirst();
    return row ?? null;
  }

  async fail(
    id: string,
    error: JobErrorInfo,
    options: { readonly retryable: boolean; readonly staleAfterMs?: number },
  ): Promise<JobRow | null> {
    if (!isUuid(id)) return null;
    const staleAfterMs = options.staleAfterMs;
    const row = await this.db
      .updateTable('jobs')
      .set({
        status: options.retryable ? JobStatus.Queued : JobStatus.Failed,
        error: JSON.stringify(error),
        finished_at: options.retryable ? null : sql<Date>`now()`,
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', id)
      .where(unclaimed(staleAfterMs))
      .returningAll()
      .executeTakeFirst();
    return row ?? null;
  }

  async cancel(id: string): Promise<JobRow | null> {
    if (!isUuid(id)) return null;
    const row = await this.db
      .updateTable('jobs')
      .set({ status: JobStatus.Cancelled, finished_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('status', 'in', [JobStatus.Queued, JobStatus.Running])
      .returningAll()
      .executeTakeFirst();
    return row ?? (await this.get(id));
  }

  async release(id: string): Promise<JobRow | null> {
    if (!isUuid(id)) return null;
    const row = await this.db
      .updateTable('jobs')
      .set({
        status: JobStatus.Queued,
        attempts: sql<number>`greatest(attempts - 1, 0)`,
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', id)
      .where('status', '=', JobStatus.Running)
      .returningAll()
      .executeTakeFirst();
    return row ?? null;
  }

  async replay(id: string): Promise<JobRow | null> {
    if (!isUuid(id)) return null;
    const row = await this.db
      .updateTable('jobs')
      .set({
        status: JobStatus.Queued,
        attempts: 0,
        progress_done: 0,
        progress_total: null,
        progress_step: null,
        started_at: null,
        finished_at: null,
        updated_at: sql<Date>`now()`,
      })
      .where('id', '=', id)
      .where('status', '=', JobStatus.Failed)
      .returningAll()
      .executeTakeFirst();
    return row ?? null;
  }
}

/** Queued, or running without a fresh lease (when staleAfterMs is given; any running row otherwise). */
function unclaimed(staleAfterMs: number | undefined) {
  if (staleAfterMs === undefined) return sql<boolean>`status in (${JobStatus.Queued}, ${JobStatus.Running})`;
  return sql<boolean>`(status = ${JobStatus.Queued} or (status = ${JobStatus.Running} and updated_at < ${idleSince(staleAfterMs)}))`;
}

/** `now() - ms` on the database's clock, so workers on machines with skewed clocks agree on staleness. */
function idleSince(ms: number) {
  return sql<Date>`now() - (${Math.max(0, Math.round(ms))}::integer * interval '1 millisecond')`;
}
