import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@vigil/contracts';
import { JobStatus, type JobErrorInfo, type JobRow, type JobStore, type NewJob } from '../types';

export interface JobStoreContractOptions {
  /** A store for each test; it need not be empty (tests use their own queue names). */
  create(): Promise<JobStore>;
}

let counter = 0;
/** Queue names unique per test, so one database can serve the whole suite. */
function uniqueQueue(): string {
  counter += 1;
  return `q${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

function newJob(queue: string, overrides: Partial<NewJob> = {}): NewJob {
  return { queue, kind: 'import', payload: { n: 1 }, createdBy: 'user-1', ...overrides };
}

const failure = (retryable: boolean): JobErrorInfo => ({
  code: ErrorCode.Unavailable,
  message: 'backend down',
  details: { host: 'x' },
  retryable,
  attempt: 1,
});

/** The rules every JobStore follows, as a jest suite: run for the in-memory fake, PGlite and Postgres. */
export function describeJobStoreContract(name: string, options: JobStoreContractOptions): void {
  describe(`JobStore contract: ${name}`, () => {
    it('creates queued jobs and reads them back', async () => {
      const store = await options.create();
      const queue = uniqueQueue();
      const { job, created } = await store.create(
        newJob(queue, { payload: { source: 's3://b/p', when: new Date(0), skip: undefined } }),
      );
      expect(created).toBe(true);
      expect(job).toMatchObject({
        queue,
        kind: 'import',
        status: JobStatus.Queued,
        payload: { source: 's3://b/p', when: '1970-01-01T00:00:00.000Z' },
        attempts: 0,
        progress_done: 0,
        progress_total: null,
        summary: null,
        error: null,
        idempotency_key: null,
        created_by: 'user-1',
        started_at: null,
        finished_at: null,
      });
      expect(job.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(await store.get(job.id)).toEqual(job);
      expect(await store.get('00000000-0000-4000-8000-000000000000')).toBeNull();
      expect(await store.get('not-a-uuid')).toBeNull();
    });

    it('returns the existing job for a repeated idempotency key', async () => {
      const store = await options.create();
      const queue = uniqueQueue();
      const key = `key-${queue}`;
      const first = await store.create(newJob(queue, { idempotencyKey: key, payload: { a: 1, b: [1, 2] } }));
      const again = await store.create(newJob(queue, { idempotencyKey: key, payload: { b: [1, 2], a: 1 } }));
      expect(again.created).toBe(false);
      expect(again.job.id).toBe(first.job.id);
      const concurrent = await Promise.all(
        [1, 2, 3].map(() => store.create(newJob(queue, { idempotencyKey: `${key}-c` }))),
      );
      expect(new Set(concurrent.map((c) => c.job.id)).size).toBe(1);
      expect(concurrent.filter((c) => c.created)).toHaveLength(1);
      expect((await store.list({ queue })).items).toHaveLength(2);

      const conflict = { code: ErrorCode.Conflict };
      await expect(store.create(newJob(queue, { idempotencyKey: key, payload: { a: 2 } }))).rejects.toMatchObject(
        conflict,
      );
      await expect(store.create(newJob(queue, { idempotencyKey: key, kind: 'other' }))).rejects.toMatchObject(conflict);
      await expect(
        store.create(newJob(queue, { idempotencyKey: key, createdBy: 'someone-else' })),
      ).rejects.toMatchObject(conflict);
    });

    it('rejects invalid jobs with BAD_USER_INPUT', async () => {
      const store = await options.create();
      const bad = { code: ErrorCode.BadUserInput };
      await expect(store.create(newJob('has:colon'))).rejects.toMatchObject(bad);
      await expect(store.create(newJob(uniqueQueue(), { kind: '' }))).rejects.toMatchObject(bad);
      await expect(store.create(newJob(uniqueQueue(), { createdBy: ' ' }))).rejects.toMatchObject(bad);
      await expect(store.create(newJob(uniqueQueue(), { payload: { n: 1n } }))).rejects.toMatchObject(bad);
      await expect(store.create(newJob(uniqueQueue(), { idempotencyKey: '' }))).rejects.toMatchObject(bad);
    });

    it('lists with filters and cursor pagination in both orders', async () => {
      const store = await options.create();
      const queue = uniqueQueue();
      const other = uniqueQueue();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await store.create(newJob(queue, { payload: { i } }))).job.id);
      await store.create(newJob(other));
      await store.create(newJob(queue, { kind: 'train', createdBy: 'user-2' })).then(({ job }) => store.cancel(job.id));

      const collect = async (order: 'newest' | 'oldest') => {
        const seen: JobRow[] = [];
        let cursor: string | null = null;
        do {
          const page = await store.list({ queue, kind: 'import', order, limit: 2, cursor });
          expect(page.items.length).toBeLessThanOrEqual(2);
          seen.push(...page.items);
          cursor = page.nextCursor;
        } while (cursor);
        return seen;
      };
      // Order is (created_at, id): rows created within the clock's resolution (PGlite's can be coarse) tie
      // on time and fall back to id, so the check is on the order itself, not on insertion order.
      const oldest = await collect('oldest');
      expect(oldest.map((job) => job.id).sort()).toEqual([...ids].sort());
      const times = oldest.map((job) => job.created_at.getTime());
      expect(times).toEqual([...times].sort((a, b) => a - b));
      expect((await collect('newest')).map((job) => job.id)).toEqual(oldest.map((job) => job.id).reverse());

      expect((await store.list({ queue: [queue, other] })).items).toHaveLength(7);
      expect((await store.list({ queue, status: JobStatus.Cancelled })).items.map((j) => j.kind)).toEqual(['train']);
      expect((await store.list({ queue, status: [JobStatus.Queued, JobStatus.Cancelled] })).items).toHaveLength(6);
      expect((await store.list({ queue, createdBy: 'user-2' })).items).toHaveLength(1);
      expect((await store.list({ queue: [] })).items).toEqual([]);
      const full = await store.list({ queue, limit: 6 });
      expect(full.items).toHaveLength(6);
      expect(full.nextCursor).toBeNull();

      const bad = { code: ErrorCode.BadUserInput };
      await expect(store.list({ queue, cursor: 'garbage' })).rejects.toMatchObject(bad);
      await expect(store.list({ queue, limit: 0 })).rejects.toMatchObject(bad);
      await expect(store.list({ queue, limit: 501 })).rejects.toMatchObject(bad);
    });

    it('runs a job: attempts, progress, success', async () => {
      const store = await options.create();
      const { job } = await store.create(newJob(uniqueQueue()));
      expect(await store.reportProgress(job.id, { done: 1 })).toBe(false);
      const running = await store.markRunning(job.id);
      expect(running).toMatchObject({ status: JobStatus.Running, attempts: 1 });
      expect(running?.started_at?.getTime()).toEqual(expect.any(Number));
      expect(await store.reportProgress(job.id, { done: 3, total: 10, step: 'decoding' })).toBe(true);
      expect(await store.get(job.id)).toMatchObject({
        progress_done: 3,
        progress_total: 10,
        progress_step: 'decoding',
      });
      const done = await store.succeed(job.id, { imported: 10, names: ['a'] });
      expect(done).toMatchObject({ status: JobStatus.Succeeded, summary: { imported: 10, names: ['a'] }, error: null });
      expect(done?.finished_at?.getTime()).toEqual(expect.any(Number));
      expect(await store.succeed(job.id, {})).toBeNull();
      expect(await store.markRunning(job.id)).toBeNull();
      expect(await store.reportProgress(job.id, { done: 4 })).toBe(false);
    });

    it('re-runs an interrupted running job, counting the attempt and resetting progress', async () => {
      const store = await options.create();
      const { job } = await store.create(newJob(uniqueQueue()));
      await store.markRunning(job.id);
      await store.reportProgress(job.id, { done: 5, total: 9 });
      expect(await store.markRunning(job.id)).toMatchObject({ attempts: 2, progress_done: 0, progress_total: null });
    });

    it('fails for a retry (back to queued) or for good', async () => {
      const store = await options.create();
      const { job } = await store.create(newJob(uniqueQueue()));
      await store.markRunning(job.id);
      const retrying = await store.fail(job.id, failure(true), { retryable: true });
      expect(retrying).toMatchObject({ status: JobStatus.Queued, error: failure(true), finished_at: null });
      await store.markRunning(job.id);
      const failed = await store.fail(job.id, failure(false), { retryable: false });
      expect(failed).toMatchObject({ status: JobStatus.Failed, attempts: 2, error: failure(false) });
      expect(failed?.finished_at?.getTime()).toEqual(expect.any(Number));
      expect(await store.fail(job.id, failure(false), { retryable: false })).toBeNull();
    });

    it('cancels queued and running jobs, and leaves finished ones alone', async () => {
      const store = await options.create();
      const queue = uniqueQueue();
      const queued = (await store.create(newJob(queue))).job;
      expect(await store.cancel(queued.id)).toMatchObject({ status: JobStatus.Cancelled });
      expect(await store.markRunning(queued.id)).toBeNull();

      const running = (await store.create(newJob(queue))).job;
      await store.markRunning(running.id);
      expect(await store.cancel(running.id)).toMatchObject({ status: JobStatus.Cancelled });
      expect(await store.succeed(running.id, {})).toBeNull();
      expect(await store.fail(running.id, failure(true), { retryable: true })).toBeNull();
      expect(await store.reportProgress(running.id, { done: 1 })).toBe(false);

      const finished = (await store.create(newJob(queue))).job;
      await store.markRunning(finished.id);
      await store.succeed(finished.id, { ok: true });
      expect(await store.cancel(finished.id)).toMatchObject({ status: JobStatus.Succeeded, summary: { ok: true } });
      expect(await store.cancel('00000000-0000-4000-8000-000000000000')).toBeNull();
    });

    it('releases a running job back to the queue, giving the attempt back', async () => {
      const store = await options.create();
      const { job } = await store.create(newJob(uniqueQueue()));
      expect(await store.release(job.id)).toBeNull();
      await store.markRunning(job.id);
      expect(await store.release(job.id)).toMatchObject({ status: JobStatus.Queued, attempts: 0 });
    });

    it('claims a running job only once its lease expired, and heartbeats renew the lease', async () => {
      const store = await options.create();
      const queue = uniqueQueue();
      const { job } = await store.create(newJob(queue));
      expect(await store.markRunning(job.id, { staleAfterMs: 60_000 })).toMatchObject({ attempts: 1 });
      expect(await store.markRunning(job.id, { staleAfterMs: 60_000 })).toBeNull();
      expect(await store.fail(job.id, failure(false), { retryable: false, staleAfterMs: 60_000 })).toBeNull();
      expect(await store.heartbeat([job.id, 'not-a-uuid'])).toBe(1);
      expect((await store.list({ queue, status: JobStatus.Running, idleForMs: 60_000 })).items).toEqual([]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await store.list({ queue, status: JobStatus.Running, idleForMs: 10 })).items).toHaveLength(1);
      expect(await store.markRunning(job.id, { staleAfterMs: 10, maxAttempts: 1 })).toBeNull();
      expect(await store.markRunning(job.id, { staleAfterMs: 10, maxAttempts: 3 })).toMatchObject({ attempts: 2 });
      await store.succeed(job.id, {});
      expect(await store.heartbeat([job.id])).toBe(0);
    });

    it('replays a failed job with a renewed attempts budget, and nothing else', async () => {
      const store = await options.create();
      const { job } = await store.create(newJob(uniqueQueue()));
      expect(await store.replay(job.id)).toBeNull();
      await store.markRunning(job.id);
      await store.fail(job.id, failure(false), { retryable: false });
      const replayed = await store.replay(job.id);
      expect(replayed).toMatchObject({
        status: JobStatus.Queued,
        attempts: 0,
        started_at: null,
        finished_at: null,
        error: { code: ErrorCode.Unavailable },
      });
      expect(await store.replay(job.id)).toBeNull();
      expect(await store.replay('00000000-0000-4000-8000-000000000000')).toBeNull();
    });
  });
}
