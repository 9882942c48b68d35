import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { BullMqTransport, type BullMqTransportOptions } from './bullmq-transport';
import { JobRepository } from './job-repository';
import { JobAbortedError, JobRunner } from './job-runner';
import { InMemoryJobStore } from './testing/in-memory-job-store';
import { createTestDatabase, type TestDatabase } from './testing/postgres';
import { waitForJobStatus } from './testing/wait';
import { JobStatus, type JobStore } from './types';

const redisUrl = process.env.VIGIL_TEST_REDIS_URL;
const databaseUrl = process.env.VIGIL_TEST_DATABASE_URL;
if (!redisUrl) console.warn('Skipping BullMqTransport tests: VIGIL_TEST_REDIS_URL is not set.');

const finished = [JobStatus.Succeeded, JobStatus.Failed, JobStatus.Cancelled];

(redisUrl ? describe : describe.skip)('BullMqTransport on Redis', () => {
  // Every key of this run lives under its own prefix, removed in afterAll.
  const prefix = `vigil-test-${randomBytes(6).toString('hex')}`;
  let redis: Redis;
  const closers: (() => Promise<void>)[] = [];
  let queueCount = 0;
  const uniqueQueue = () => `q${++queueCount}`;

  beforeAll(() => {
    redis = new Redis(redisUrl ?? '', { maxRetriesPerRequest: null });
  });

  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    await redis.quit();
  });

  function transport(options: Partial<BullMqTransportOptions> = {}): BullMqTransport {
    const created = new BullMqTransport({ connection: redisUrl ?? '', prefix, ...options });
    closers.push(() => created.close());
    return created;
  }

  function runner(store: JobStore, options: Partial<BullMqTransportOptions> = {}, shutdownTimeoutMs = 5000) {
    const created = new JobRunner({
      store,
      transport: transport(options),
      backoff: { baseMs: 10, maxMs: 50 },
      cancelPollIntervalMs: 20,
      shutdownTimeoutMs,
      // Short, so a job whose worker died is taken over soon after BullMQ redelivers it.
      leaseMs: 300,
    });
    closers.push(() => created.close({ timeoutMs: 100 }));
    return created;
  }

  it('runs a job, retrying with backoff through the delayed set', async () => {
    const store = new InMemoryJobStore();
    const queue = uniqueQueue();
    const jobs = runner(store);
    jobs.register(queue, 'work', async (_payload, { attempt, progress }) => {
      progress(attempt, 3);
      if (attempt < 3) throw new Error(`transient ${attempt}`);
      return { attempt };
    });
    await jobs.start();
    const job = await jobs.submit({ queue, kind: 'work', payload: {}, createdBy: 'u' });
    const done = await waitForJobStatus(store, job.id, finished);
    expect(done).toMatchObject({ status: JobStatus.Succeeded, attempts: 3, summary: { attempt: 3 }, progress_done: 3 });
    await jobs.close();
  });

  it('uses the row id as BullMQ job id, so a duplicate enqueue is a no-op', async () => {
    const queue = uniqueQueue();
    const bull = transport();
    const ref = { id: '3f1c2a9e-0000-4000-8000-000000000001', queue, kind: 'k' };
    await bull.enqueue(ref);
    await bull.enqueue(ref);
    const deliveries: string[] = [];
    await bull.start([queue], async (job) => {
      deliveries.push(job.id);
      return { type: 'done' };
    });
    const deadline = Date.now() + 5000;
    while (deliveries.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 100));
    expect(deliveries).toEqual([ref.id]);
    await bull.close();
  });

  it('cancels a running job', async () => {
    const store = new InMemoryJobStore();
    const queue = uniqueQueue();
    const jobs = runner(store);
    let reason: unknown;
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    jobs.register(queue, 'work', async (_payload, { signal }) => {
      started();
      reason = await new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)));
    });
    await jobs.start();
    const job = await jobs.submit({ queue, kind: 'work', payload: {}, createdBy: 'u' });
    await running;
    expect((await jobs.cancel(job.id)).status).toBe(JobStatus.Cancelled);
    expect(reason).toBeInstanceOf(JobAbortedError);
    await jobs.close();
    expect(await store.get(job.id)).toMatchObject({ status: JobStatus.Cancelled });
  });

  it('hands a job back on close, and another runner finishes it', async () => {
    const store = new InMemoryJobStore();
    const queue = uniqueQueue();
    const first = runner(store, {}, 50);
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    first.register(queue, 'work', async () => {
      started();
      await new Promise(() => undefined);
    });
    await first.start();
    const job = await first.submit({ queue, kind: 'work', payload: {}, createdBy: 'u' });
    await running;
    await first.close();
    expect(await store.get(job.id)).toMatchObject({ status: JobStatus.Queued, attempts: 0 });

    const second = runner(store);
    second.register(queue, 'work', async () => ({ second: true }));
    await second.start();
    expect(await waitForJobStatus(store, job.id, finished)).toMatchObject({
      status: JobStatus.Succeeded,
      attempts: 1,
      summary: { second: true },
    });
    await second.close();
  });

  it("recovers a crashed worker's job through BullMQ's stalled-job check", async () => {
    const store = new InMemoryJobStore();
    const queue = uniqueQueue();
    const stall = { lockDurationMs: 300, stalledIntervalMs: 150 };
    const { job } = await store.create({ queue, kind: 'work', payload: {}, createdBy: 'u' });
    await transport().enqueue({ id: job.id, queue, kind: 'work' });

    // A worker that takes the job, marks it running and then dies without a word.
    const connection = new Redis(redisUrl ?? '', { maxRetriesPerRequest: null });
    let taken!: () => void;
    const wasTaken = new Promise<void>((resolve) => (taken = resolve));
    const doomed = new Worker(
      queue,
      async (bullJob) => {
        await store.markRunning(bullJob.id ?? '');
        taken();
        await new Promise(() => undefined);
      },
      // skipStalledCheck: its own check would hold the queue's 'stalled-check' key and delay the rescuer's.
      { connection, prefix, lockDuration: stall.lockDurationMs, skipStalledCheck: true },
    );
    doomed.on('error', () => undefined);
    await wasTaken;
    await doomed.close(true);
    connection.disconnect();
    expect(await store.get(job.id)).toMatchObject({ status: JobStatus.Running, attempts: 1 });

    const rescuer = runner(store, stall);
    rescuer.register(queue, 'work', async (_payload, { attempt }) => ({ attempt }));
    await rescuer.start();
    expect(await waitForJobStatus(store, job.id, finished)).toMatchObject({
      status: JobStatus.Succeeded,
      attempts: 2,
      summary: { attempt: 2 },
    });
    await rescuer.close();
  });

  (databaseUrl ? describe : describe.skip)('with Postgres', () => {
    let database: TestDatabase | undefined;

    beforeAll(async () => {
      database = await createTestDatabase(databaseUrl ?? '', 'vigil_queue_bull');
    });

    afterAll(async () => {
      await database?.drop();
    });

    it('runs jobs end to end: JobRepository + BullMQ', async () => {
      if (!database) throw new Error('database not open');
      const store = new JobRepository(database.handle.db);
      const queue = uniqueQueue();
      const jobs = runner(store);
      jobs.register(queue, 'work', async (payload: { n: number }) => ({ squared: payload.n ** 2 }));
      await jobs.start();
      const submitted = await Promise.all(
        [1, 2, 3].map((n) =>
          jobs.submit({ queue, kind: 'work', payload: { n }, createdBy: 'u', idempotencyKey: `${queue}-${n}` }),
        ),
      );
      const again = await jobs.submit({
        queue,
        kind: 'work',
        payload: { n: 1 },
        createdBy: 'u',
        idempotencyKey: `${queue}-1`,
      });
      expect(again.id).toBe(submitted[0]?.id);
      const results = await Promise.all(submitted.map((job) => waitForJobStatus(store, job.id, finished)));
      expect(results.map((row) => row.summary)).toEqual([{ squared: 1 }, { squared: 4 }, { squared: 9 }]);
      await jobs.close();
    });
  });
});
