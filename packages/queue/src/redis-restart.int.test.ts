import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { BullMqTransport } from './bullmq-transport';
import { JobRepository } from './job-repository';
import { JobRunner } from './job-runner';
import { InMemoryJobStore } from './testing/in-memory-job-store';
import { createTestDatabase, type TestDatabase } from './testing/postgres';
import { hasRedisServer, startPrivateRedis, type PrivateRedis } from './testing/redis-server';
import { waitForJobStatus } from './testing/wait';
import { JobStatus, type JobStore } from './types';

// A redis-server of this test's own (the shared one must never be restarted), with no persistence: a restart
// empties it, as on the machine's Redis. The jobs table (Postgres when VIGIL_TEST_DATABASE_URL is set, the
// in-memory fake otherwise) is the truth that reconciliation restores the queues from.
const available = hasRedisServer();
if (!available) console.warn('Skipping Redis restart tests: redis-server is not on PATH.');
const databaseUrl = process.env.VIGIL_TEST_DATABASE_URL;

const finished = [JobStatus.Succeeded, JobStatus.Failed, JobStatus.Cancelled];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

(available ? describe : describe.skip)('JobRunner on BullMQ when Redis restarts empty', () => {
  let redis: PrivateRedis;
  let database: TestDatabase | undefined;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    redis = await startPrivateRedis();
    if (databaseUrl) database = await createTestDatabase(databaseUrl, 'vigil_queue_restart');
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await redis?.stop();
    await database?.drop();
  });

  function store(): JobStore {
    return database ? new JobRepository(database.handle.db) : new InMemoryJobStore();
  }

  function runner(jobs: JobStore, options: { reconcileIntervalMs?: number; leaseMs?: number } = {}) {
    const created = new JobRunner({
      store: jobs,
      transport: new BullMqTransport({ connection: redis.url, prefix: `t${randomBytes(4).toString('hex')}` }),
      backoff: { baseMs: 10, maxMs: 50 },
      cancelPollIntervalMs: 0,
      leaseMs: options.leaseMs ?? 600,
      reconcileIntervalMs: options.reconcileIntervalMs ?? 0,
      enqueueTimeoutMs: 200,
    });
    closers.push(() => created.close({ timeoutMs: 500 }));
    return created;
  }

  it('re-enqueues every queued job after a restart, and the job running through it finishes once', async () => {
    const jobs = store();
    const queue = 'restart';
    const runs = new Map<string, number>();
    const held = gate();
    let firstStarted!: () => void;
    const started = new Promise<void>((resolve) => (firstStarted = resolve));
    // Timer off: only the reconnection may bring the lost jobs back.
    const worker = runner(jobs);
    worker.register(queue, 'work', async (_payload, { jobId }) => {
      runs.set(jobId, (runs.get(jobId) ?? 0) + 1);
      firstStarted();
      await held.opened;
      return { jobId };
    });
    await worker.start();
    const submitted = [];
    for (let n = 0; n < 20; n += 1) {
      submitted.push(await worker.submit({ queue, kind: 'work', payload: { n }, createdBy: 'u' }));
    }
    await started;

    await redis.restart();
    // Until the runner reconnects and reconciles, nothing can run: the queue in Redis is empty.
    held.open();
    const rows = await Promise.all(submitted.map((job) => waitForJobStatus(jobs, job.id, finished, 30_000)));
    expect(rows.map((row) => row.status)).toEqual(submitted.map(() => JobStatus.Succeeded));
    expect(rows.map((row) => row.attempts)).toEqual(submitted.map(() => 1));
    expect([...runs.values()]).toEqual(submitted.map(() => 1));
  });

  it('accepts submissions while Redis is down, and delivers them once it is back', async () => {
    const jobs = store();
    const queue = 'outage';
    const worker = runner(jobs, { reconcileIntervalMs: 200 });
    worker.register(queue, 'work', async (payload: { n: number }) => ({ n: payload.n }));
    await worker.start();
    await redis.kill();
    const submitted = [];
    for (let n = 0; n < 3; n += 1) {
      submitted.push(await worker.submit({ queue, kind: 'work', payload: { n }, createdBy: 'u' }));
    }
    await sleep(300);
    expect((await jobs.get(submitted[0]?.id ?? ''))?.status).toBe(JobStatus.Queued);
    await redis.restart();
    const rows = await Promise.all(submitted.map((job) => waitForJobStatus(jobs, job.id, finished, 30_000)));
    expect(rows.map((row) => [row.status, row.summary])).toEqual(submitted.map((_, n) => [JobStatus.Succeeded, { n }]));
  });

  it('takes over a job whose worker died while Redis was away, once its lease expired', async () => {
    const jobs = store();
    const queue = 'abandoned';
    // A worker took this job, then died together with Redis's copy of it.
    const { job } = await jobs.create({ queue, kind: 'work', payload: {}, createdBy: 'u' });
    expect(await jobs.markRunning(job.id)).toMatchObject({ status: JobStatus.Running, attempts: 1 });
    const rescuer = runner(jobs, { reconcileIntervalMs: 100, leaseMs: 400 });
    const runs: number[] = [];
    rescuer.register(queue, 'work', async (_payload, { attempt }) => {
      runs.push(attempt);
      return { attempt };
    });
    await rescuer.start();
    expect(await waitForJobStatus(jobs, job.id, finished, 30_000)).toMatchObject({
      status: JobStatus.Succeeded,
      attempts: 2,
    });
    expect(runs).toEqual([2]);
  });
});
