import { afterEach, describe, expect, it } from '@jest/globals';
import { ErrorCode, VigilError, errors } from '@vigil/contracts';
import { InProcessTransport } from './in-process-transport';
import { JobAbortedError, JobRunner, type JobContext, type JobRunnerOptions } from './job-runner';
import { InMemoryJobStore } from './testing/in-memory-job-store';
import type { JobTransport } from './transport';
import { JobStatus, type JobRow, type JobStore } from './types';

const Queues = { Ingestion: 'ingestion', Training: 'training' } as const;
const Kinds = { Import: 'import', Train: 'train' } as const;

const runners: JobRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((runner) => runner.close({ timeoutMs: 100 })));
});

function setup(options: Partial<JobRunnerOptions> = {}, store = new InMemoryJobStore()) {
  const transport = new InProcessTransport({ concurrency: 2 });
  const runner = new JobRunner({
    store,
    transport,
    maxAttempts: 3,
    backoff: { baseMs: 1, maxMs: 5 },
    cancelPollIntervalMs: 0,
    ...options,
  });
  runners.push(runner);
  return { store, transport, runner };
}

async function waitFor(store: JobStore, id: string, statuses: readonly string[], timeoutMs = 5000): Promise<JobRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await store.get(id);
    if (row && statuses.includes(row.status)) return row;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${row?.status}, not ${statuses.join('|')}`);
    await sleep(2);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const finished = [JobStatus.Succeeded, JobStatus.Failed, JobStatus.Cancelled];

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves when the signal aborts, with its reason. */
function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
}

const submitImport = (runner: JobRunner, payload: unknown = { n: 1 }, idempotencyKey?: string) =>
  runner.submit({ queue: Queues.Ingestion, kind: Kinds.Import, payload, createdBy: 'user-1', idempotencyKey });

describe('JobRunner with InProcessTransport', () => {
  it('runs a job and records its summary', async () => {
    const { runner, store } = setup();
    const seen: { payload: unknown; context: Partial<JobContext> }[] = [];
    runner.register(Queues.Ingestion, Kinds.Import, async (payload, context) => {
      seen.push({ payload, context: { jobId: context.jobId, attempt: context.attempt, createdBy: context.createdBy } });
      return { imported: 3, at: new Date(0) };
    });
    await runner.start();
    const job = await submitImport(runner, { source: 's3://b/p' });
    expect(job.status).toBe(JobStatus.Queued);
    const done = await waitFor(store, job.id, finished);
    expect(done).toMatchObject({
      status: JobStatus.Succeeded,
      attempts: 1,
      summary: { imported: 3, at: '1970-01-01T00:00:00.000Z' },
      error: null,
    });
    expect(seen).toEqual([
      { payload: { source: 's3://b/p' }, context: { jobId: job.id, attempt: 1, createdBy: 'user-1' } },
    ]);
    expect(await runner.get(job.id)).toEqual(done);
    await expect(runner.get('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: ErrorCode.NotFound,
    });
  });

  it('retries ordinary errors with backoff, then succeeds', async () => {
    const { runner, store } = setup();
    let calls = 0;
    runner.register(Queues.Ingestion, Kinds.Import, async (_payload, { attempt }) => {
      calls += 1;
      if (attempt < 3) throw new Error(`flaky ${attempt}`);
      return { ok: true };
    });
    await runner.start();
    const job = await submitImport(runner);
    const done = await waitFor(store, job.id, finished);
    expect(done).toMatchObject({ status: JobStatus.Succeeded, attempts: 3, summary: { ok: true }, error: null });
    expect(calls).toBe(3);
    expect(store.writes.filter((w) => w.id === job.id).map((w) => w.method)).toEqual([
      'create',
      'markRunning',
      'fail',
      'markRunning',
      'fail',
      'markRunning',
      'succeed',
    ]);
  });

  it('gives up after maxAttempts, without leaking internal error messages', async () => {
    const { runner, store } = setup();
    runner.register(Queues.Ingestion, Kinds.Import, async () => {
      throw new Error('connection string postgres://secret@db');
    });
    await runner.start();
    const job = await submitImport(runner);
    const done = await waitFor(store, job.id, finished);
    expect(done).toMatchObject({
      status: JobStatus.Failed,
      attempts: 3,
      error: { code: ErrorCode.Internal, retryable: false, attempt: 3 },
    });
    expect(JSON.stringify(done.error)).not.toContain('secret');
  });

  it('fails at once on non-retryable VigilErrors', async () => {
    const { runner, store } = setup();
    runner.register(Queues.Ingestion, Kinds.Import, async (payload) => {
      const { code } = payload as { code: string };
      if (code === 'manifest') throw errors.invalidManifest('line 3: missing source-ref', { line: 3 });
      if (code === 'missing') throw errors.notFound('dataset', 'd1');
      throw errors.badInput('no images in prefix');
    });
    await runner.start();
    for (const [code, expected] of [
      ['manifest', ErrorCode.InvalidManifest],
      ['missing', ErrorCode.NotFound],
      ['input', ErrorCode.BadUserInput],
    ] as const) {
      const job = await submitImport(runner, { code });
      const done = await waitFor(store, job.id, finished);
      expect(done).toMatchObject({
        status: JobStatus.Failed,
        attempts: 1,
        error: { code: expected, retryable: false },
      });
    }
    const manifest = (await store.list({ queue: Queues.Ingestion, status: JobStatus.Failed })).items.find(
      (row) => (row.error as { code: string }).code === ErrorCode.InvalidManifest,
    );
    expect(manifest?.error).toEqual({
      code: ErrorCode.InvalidManifest,
      message: 'line 3: missing source-ref',
      details: { line: 3 },
      retryable: false,
      attempt: 1,
    });
  });

  it('lets an error decide with details.retryable', async () => {
    const { runner, store } = setup();
    runner.register(Queues.Ingestion, Kinds.Import, async (_payload, { attempt }) => {
      if (attempt === 1) throw new VigilError(ErrorCode.NotFound, 'not yet visible', { retryable: true });
      throw new VigilError(ErrorCode.Unavailable, 'quota gone for good', { retryable: false });
    });
    await runner.start();
    const done = await waitFor(store, (await submitImport(runner)).id, finished);
    expect(done).toMatchObject({ status: JobStatus.Failed, attempts: 2, error: { code: ErrorCode.Unavailable } });
    expect((done.error as { details: object }).details).toEqual({});
  });

  it('validates the payload with the registered parser', async () => {
    const { runner, store } = setup();
    let called = false;
    runner.register(
      Queues.Ingestion,
      Kinds.Import,
      async () => {
        called = true;
      },
      {
        parse: (payload) => {
          if (typeof (payload as { source?: unknown }).source !== 'string') throw new Error('source is required');
          return payload as { source: string };
        },
      },
    );
    await runner.start();
    const done = await waitFor(store, (await submitImport(runner, { nope: 1 })).id, finished);
    expect(done).toMatchObject({ status: JobStatus.Failed, attempts: 1, error: { code: ErrorCode.BadUserInput } });
    expect((done.error as { message: string }).message).toContain('source is required');
    expect(called).toBe(false);
  });

  it('fails a job whose summary is not JSON, without retrying', async () => {
    const { runner, store } = setup();
    runner.register(Queues.Ingestion, Kinds.Import, async () => ({ big: 1n }));
    await runner.start();
    const done = await waitFor(store, (await submitImport(runner)).id, finished);
    expect(done).toMatchObject({ status: JobStatus.Failed, attempts: 1, error: { code: ErrorCode.Internal } });
  });

  it('throttles progress writes and always writes the last value', async () => {
    // A long interval makes the count exact: the first call writes at once, the rest wait for the final flush.
    const { runner, store } = setup({ progressIntervalMs: 60_000 });
    runner.register(Queues.Ingestion, Kinds.Import, async (_payload, { progress }) => {
      for (let i = 1; i <= 1000; i++) progress(i, 1000, i < 1000 ? 'importing' : 'done');
      await sleep(5);
      return {};
    });
    await runner.start();
    const job = await submitImport(runner);
    const done = await waitFor(store, job.id, finished);
    expect(done).toMatchObject({ progress_done: 1000, progress_total: 1000, progress_step: 'done' });
    expect(store.writes.filter((w) => w.id === job.id && w.method === 'reportProgress')).toHaveLength(2);
  });

  it('writes progress while the job runs', async () => {
    const { runner, store } = setup({ progressIntervalMs: 1 });
    const gate = deferred();
    runner.register(Queues.Ingestion, Kinds.Import, async (_payload, { progress }) => {
      progress(2.7, 10, 'decoding');
      await gate.promise;
      return {};
    });
    await runner.start();
    const job = await submitImport(runner);
    const deadline = Date.now() + 5000;
    while ((await store.get(job.id))?.progress_done !== 2 && Date.now() < deadline) await sleep(2);
    expect(await store.get(job.id)).toMatchObject({
      status: JobStatus.Running,
      progress_done: 2,
      progress_total: 10,
      progress_step: 'decoding',
    });
    gate.resolve();
    await waitFor(store, job.id, finished);
  });

  it('cancels a running job: the signal aborts and a late result is discarded', async () => {
    const { runner, store } = setup();
    const started = deferred();
    const reasons: unknown[] = [];
    runner.register(Queues.Ingestion, Kinds.Import, async (_payload, { signal }) => {
      started.resolve();
      reasons.push(await aborted(signal));
      return { ignoredTheSignal: true };
    });
    await runner.start();
    const job = await submitImport(runner);
    await started.promise;
    const cancelled = await runner.cancel(job.id);
    expect(cancelled.status).toBe(JobStatus.Cancelled);
    await sleep(20);
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(JobAbortedError);
    expect((reasons[0] as JobAbortedError).reason).toBe('cancelled');
    expect(await store.get(job.id)).toMatchObject({ status: JobStatus.Cancelled, summary: null, error: null });
    // Cancelling again, or a finished job, changes nothing.
    expect((await runner.cancel(job.id)).status).toBe(JobStatus.Cancelled);
    await expect(runner.cancel('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: ErrorCode.NotFound,
    });
  });

  it('cancels a queued job before it runs', async () => {
    const { runner, store } = setup();
    let calls = 0;
    runner.register(Queues.Ingestion, Kinds.Import, async () => {
      calls += 1;
    });
    const job = await submitImport(runner);
    await runner.cancel(job.id);
    await runner.start();
    await sleep(20);
    expect(calls).toBe(0);
    expect(await store.get(job.id)).toMatchObject({ status: JobStatus.Cancelled, attempts: 0 });
  });

  it('notices a cancellation made by another process', async () => {
    const { runner, store } = setup({ cancelPollIntervalMs: 5 });
    const started = deferred();
    const reasons: unknown[] = [];
    runner.register(Queues.Ingestion, Kinds.Import, async (_payload, { signal }) => {
      started.resolve();
      reasons.push(await aborted(signal));
      throw new Error('aborted');
    });
    await runner.start();
    const job = await submitImport(runner);
    await started.promise;
    await store.cancel(job.id); // as another process would, straight in the table
    const deadline = Date.now() + 5000;
    while (reasons.length === 0 && Date.now() < deadline) await sleep(2);
    expect((reasons[0] as JobAbortedError).reason).toBe('cancelled');
    await sleep(10);
    expect(await store.get(job.id)).toMatchObject({ status: JobStatus.Cancelled, error: null });
  });

  it('notices a cancellation at the next progress write', async () => {
    const { runner, store } = setup({ progressIntervalMs: 1 });
    const started = deferred();
    let sawAbort = false;
    runner.register(Queues.Ingestion, Kinds.Import, async (_payload, { signal, progress }) => {
      started.resolve();
      for (let i = 0; i < 2000 && !signal.aborted; i++) {
        progress(i);
        await sleep(2);
      }
      sawAbort = signal.aborted;
    });
    await runner.start();
    const job = await submitImport(runner);
    await started.promise;
    await store.cancel(job.id);
    await waitFor(store, job.id, finished);
    const deadline = Date.now() + 5000;
    while (!sawAbort && Date.now() < deadline) await sleep(2);
    expect(sawAbort).toBe(true);
  });

  it('runs a job once per idempotency key', async () => {
    const { runner, store } = setup();
    let calls = 0;
    runner.register(Queues.Ingestion, Kinds.Import, async () => {
      calls += 1;
      return { calls };
    });
    await runner.start();
    const first = await submitImport(runner, { n: 1 }, 'import-42');
    const second = await submitImport(runner, { n: 1 }, 'import-42');
    expect(second.id).toBe(first.id);
    await waitFor(store, first.id, finished);
    const third = await submitImport(runner, { n: 1 }, 'import-42');
    expect(third).toMatchObject({ id: first.id, status: JobStatus.Succeeded });
    await sleep(10);
    expect(calls).toBe(1);
    await expect(submitImport(runner, { n: 2 }, 'import-42')).rejects.toMatchObject({ code: ErrorCode.Conflict });
  });

  it('recovers queued and interrupted jobs on start, and gives up on jobs interrupted too often', async () => {
    const store = new InMemoryJobStore();
    const create = async (status: string, attempts: number) => {
      const { job } = await store.create({ queue: Queues.Ingestion, kind: Kinds.Import, payload: {}, createdBy: 'u' });
      // Long untouched: the process that ran it is gone, so its lease has expired.
      store.forceUpdate(job.id, { status, attempts, updated_at: new Date(0) });
      return job.id;
    };
    const queued = await create(JobStatus.Queued, 0);
    const crashed = await create(JobStatus.Running, 1);
    const crashedTooOften = await create(JobStatus.Running, 3);
    const done = await create(JobStatus.Succeeded, 1);
    const otherQueue = (await store.create({ queue: 'elsewhere', kind: Kinds.Import, payload: {}, createdBy: 'u' })).job
      .id;

    // The "new process": a fresh runner on the same table.
    const { runner } = setup({}, store);
    const ran: string[] = [];
    runner.register(Queues.Ingestion, Kinds.Import, async (_payload, { jobId }) => {
      ran.push(jobId);
      return {};
    });
    await runner.start();
    expect(await waitFor(store, queued, finished)).toMatchObject({ status: JobStatus.Succeeded, attempts: 1 });
    expect(await waitFor(store, crashed, finished)).toMatchObject({ status: JobStatus.Succeeded, attempts: 2 });
    const gaveUp = await waitFor(store, crashedTooOften, finished);
    expect(gaveUp).toMatchObject({ status: JobStatus.Failed, attempts: 3, error: { code: ErrorCode.Internal } });
    expect((gaveUp.error as { message: string }).message).toMatch(/interrupted.*attempt 3 of 3/);
    expect((await store.get(done))?.attempts).toBe(1);
    expect((await store.get(otherQueue))?.status).toBe(JobStatus.Queued);
    expect(ran.sort()).toEqual([queued, crashed].sort());
  });

  it('hands unfinished jobs back to the queue on close, for the next start', async () => {
    const store = new InMemoryJobStore();
    const first = setup({}, store);
    const started = deferred();
    const reasons: unknown[] = [];
    first.runner.register(Queues.Ingestion, Kinds.Import, async (_payload, { signal }) => {
      started.resolve();
      reasons.push(await aborted(signal));
      await new Promise(() => undefined); // ignores the abort and never ends: close() must not wait for it
    });
    await first.runner.start();
    const job = await submitImport(first.runner);
    await started.promise;
    await first.runner.close({ timeoutMs: 20 });
    expect((reasons[0] as JobAbortedError).reason).toBe('shutdown');
    expect(await store.get(job.id)).toMatchObject({ status: JobStatus.Queued, attempts: 0 });
    await expect(submitImport(first.runner)).rejects.toMatchObject({ code: ErrorCode.Unavailable });

    const second = setup({}, store);
    second.runner.register(Queues.Ingestion, Kinds.Import, async () => ({ resumed: true }));
    await second.runner.start();
    expect(await waitFor(store, job.id, finished)).toMatchObject({
      status: JobStatus.Succeeded,
      attempts: 1,
      summary: { resumed: true },
    });
  });

  it('waits for running jobs that finish within the timeout', async () => {
    const { runner, store } = setup();
    const started = deferred();
    runner.register(Queues.Ingestion, Kinds.Import, async () => {
      started.resolve();
      await sleep(30);
      return { finished: true };
    });
    await runner.start();
    const job = await submitImport(runner);
    await started.promise;
    await runner.close({ timeoutMs: 5000 });
    expect(await store.get(job.id)).toMatchObject({ status: JobStatus.Succeeded, summary: { finished: true } });
  });

  it('limits concurrency per queue, and queues do not block each other', async () => {
    const { runner, store } = setup();
    let running = 0;
    let peak = 0;
    const trainingGate = deferred();
    runner.register(Queues.Ingestion, Kinds.Import, async () => {
      running += 1;
      peak = Math.max(peak, running);
      await sleep(5);
      running -= 1;
    });
    runner.register(Queues.Training, Kinds.Train, async () => {
      await trainingGate.promise;
    });
    await runner.start();
    const training = await runner.submit({ queue: Queues.Training, kind: Kinds.Train, payload: {}, createdBy: 'u' });
    const imports = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => submitImport(runner, { n })));
    for (const job of imports) await waitFor(store, job.id, finished);
    expect(peak).toBe(2);
    expect((await store.get(training.id))?.status).toBe(JobStatus.Running);
    trainingGate.resolve();
    await waitFor(store, training.id, finished);
  });

  it('fails jobs of a kind nobody handles', async () => {
    const { runner, store } = setup();
    runner.register(Queues.Ingestion, Kinds.Import, async () => ({}));
    await runner.start();
    const job = await runner.submit({ queue: Queues.Ingestion, kind: 'unknown-kind', payload: {}, createdBy: 'u' });
    const done = await waitFor(store, job.id, finished);
    expect(done).toMatchObject({ status: JobStatus.Failed, error: { code: ErrorCode.Internal, retryable: false } });
    expect((done.error as { message: string }).message).toContain(
      "no handler is registered for job kind 'unknown-kind'",
    );
  });

  it('refuses bad registrations', async () => {
    const { runner } = setup();
    expect(() => runner.register('bad:queue', 'k', async () => ({}))).toThrow(
      expect.objectContaining({ code: ErrorCode.BadUserInput }),
    );
    runner.register('q', 'k', async () => ({}));
    expect(() => runner.register('q', 'k', async () => ({}))).toThrow(VigilError);
    await runner.start();
    expect(() => runner.register('q', 'k2', async () => ({}))).toThrow(VigilError);
  });

  it('keeps a job queued when the transport is down, and a reconciliation delivers it', async () => {
    const store = new InMemoryJobStore();
    const inner = new InProcessTransport();
    let down = true;
    const flaky: JobTransport = {
      name: 'flaky',
      start: (queues, deliver) => inner.start(queues, deliver),
      enqueue: async (job, options) => {
        if (down) throw new Error('redis down');
        await inner.enqueue(job, options);
      },
      missing: (jobs) => inner.missing(jobs),
      pause: () => inner.pause(),
      close: () => inner.close(),
    };
    const runner = new JobRunner({ store, transport: flaky, reconcileIntervalMs: 0, cancelPollIntervalMs: 0 });
    runners.push(runner);
    runner.register(Queues.Ingestion, Kinds.Import, async () => ({ ok: true }));
    await runner.start();
    const job = await submitImport(runner);
    expect(await store.get(job.id)).toMatchObject({ status: JobStatus.Queued });
    await expect(runner.reconcile()).rejects.toThrow('redis down');
    down = false;
    expect(await runner.reconcile()).toEqual({ queued: 1, abandoned: 0 });
    expect(await waitFor(store, job.id, finished)).toMatchObject({ status: JobStatus.Succeeded, attempts: 1 });
    expect(await runner.reconcile()).toEqual({ queued: 0, abandoned: 0 });
  });

  it('does not enqueue a job a second time on submit while it waits, and gives up on a transport that hangs', async () => {
    const store = new InMemoryJobStore();
    const hanging: JobTransport = {
      name: 'hanging',
      start: async () => undefined,
      enqueue: () => new Promise<void>(() => undefined),
      missing: async (jobs) => [...jobs],
      pause: async () => undefined,
      close: async () => undefined,
    };
    const runner = new JobRunner({ store, transport: hanging, enqueueTimeoutMs: 20, reconcileIntervalMs: 0 });
    runners.push(runner);
    const job = await submitImport(runner);
    expect(await store.get(job.id)).toMatchObject({ status: JobStatus.Queued });
  });
});

describe('JobRunner reconciliation and leases', () => {
  /** A transport that can lose everything it holds, as Redis without persistence does on a restart. */
  class ForgetfulTransport extends InProcessTransport {
    private readonly listeners = new Set<() => void>();
    readonly forgotten: string[] = [];
    private lost = false;
    override async enqueue(job: { id: string; queue: string; kind: string }, options?: { delayMs?: number }) {
      if (this.lost) {
        this.forgotten.push(job.id);
        return;
      }
      await super.enqueue(job, options);
    }
    loseEverything(): void {
      this.lost = true;
    }
    comeBack(): void {
      this.lost = false;
      for (const listener of this.listeners) listener();
    }
    override async missing(jobs: readonly { id: string; queue: string; kind: string }[]) {
      return this.lost ? [...jobs] : super.missing(jobs);
    }
    onReconnect(listener: () => void): () => void {
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    }
  }

  it('re-enqueues queued rows the transport lost when it reconnects', async () => {
    const store = new InMemoryJobStore();
    const transport = new ForgetfulTransport();
    const runner = new JobRunner({ store, transport, reconcileIntervalMs: 0, cancelPollIntervalMs: 0 });
    runners.push(runner);
    const ran: string[] = [];
    runner.register(Queues.Ingestion, Kinds.Import, async (_payload, { jobId }) => {
      ran.push(jobId);
      return {};
    });
    transport.loseEverything();
    const jobs = [await submitImport(runner, { n: 1 }), await submitImport(runner, { n: 2 })];
    expect(transport.forgotten).toHaveLength(2);
    await runner.start();
    transport.comeBack();
    for (const job of jobs) expect(await waitFor(store, job.id, finished)).toMatchObject({ status: 'succeeded' });
    expect(ran.sort()).toEqual(jobs.map((job) => job.id).sort());
  });

  it('leaves a running job with a fresh lease to its worker, and takes over one whose lease expired', async () => {
    const store = new InMemoryJobStore();
    const create = async () => {
      const { job } = await store.create({ queue: Queues.Ingestion, kind: Kinds.Import, payload: {}, createdBy: 'u' });
      return job.id;
    };
    // A worker elsewhere is running `live` (it just refreshed its lease); the one running `dead` stopped.
    const live = await create();
    const dead = await create();
    await store.markRunning(live);
    await store.markRunning(dead);
    store.forceUpdate(dead, { updated_at: new Date(Date.now() - 10_000) });
    const { runner, transport } = setup({ leaseMs: 1000, reconcileIntervalMs: 0 }, store);
    const ran: string[] = [];
    runner.register(Queues.Ingestion, Kinds.Import, async (_payload, { jobId }) => {
      ran.push(jobId);
      return {};
    });
    await runner.start();
    expect(await waitFor(store, dead, finished)).toMatchObject({ status: 'succeeded', attempts: 2 });
    expect(await runner.reconcile()).toEqual({ queued: 0, abandoned: 0 });
    // Delivered anyway (as after a worker stall that was no death): refused while the lease is fresh.
    await transport.enqueue({ id: live, queue: Queues.Ingestion, kind: Kinds.Import });
    await sleep(50);
    expect(await store.get(live)).toMatchObject({ status: 'running', attempts: 1 });
    expect(ran).toEqual([dead]);
    // The live worker finishes: nothing is left to do and nothing ran twice.
    await store.succeed(live, { by: 'other worker' });
    expect(ran).toEqual([dead]);
  });

  it('refuses to claim a row whose lease is fresh, and claims it once the lease expired', async () => {
    const store = new InMemoryJobStore();
    const { job } = await store.create({ queue: 'q', kind: 'k', payload: {}, createdBy: 'u' });
    expect(await store.markRunning(job.id, { staleAfterMs: 1000 })).toMatchObject({ attempts: 1 });
    expect(await store.markRunning(job.id, { staleAfterMs: 1000 })).toBeNull();
    expect(await store.heartbeat([job.id])).toBe(1);
    store.forceUpdate(job.id, { updated_at: new Date(Date.now() - 2000) });
    expect(await store.markRunning(job.id, { staleAfterMs: 1000 })).toMatchObject({ attempts: 2 });
  });

  it('keeps the lease of a running job fresh with heartbeats', async () => {
    const store = new InMemoryJobStore();
    const { runner } = setup({ leaseMs: 60 }, store);
    const release = deferred();
    const started = deferred();
    runner.register(Queues.Ingestion, Kinds.Import, async () => {
      started.resolve();
      await release.promise;
      return {};
    });
    await runner.start();
    const job = await submitImport(runner);
    await started.promise;
    await sleep(200);
    const beats = store.writes.filter((write) => write.id === job.id && write.method === 'heartbeat').length;
    expect(beats).toBeGreaterThanOrEqual(2);
    // Still fresh after several lease lengths: nobody else may take it.
    expect(await store.markRunning(job.id, { staleAfterMs: 60 })).toBeNull();
    release.resolve();
    expect(await waitFor(store, job.id, finished)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });
});

describe('JobRunner dead letters', () => {
  it('lists failed jobs and replays one with a renewed attempts budget', async () => {
    const { store, runner } = setup({ maxAttempts: 2 });
    let healed = false;
    runner.register(Queues.Ingestion, Kinds.Import, async (payload: { n: number }) => {
      if (payload.n === 1) throw errors.badInput('bad row');
      if (!healed) throw new Error('flaky backend');
      return { n: payload.n };
    });
    await runner.start();
    const bad = await submitImport(runner, { n: 1 });
    const flaky = await submitImport(runner, { n: 2 });
    const fine = await runner.submit({ queue: Queues.Training, kind: Kinds.Train, payload: {}, createdBy: 'u' });
    expect(await waitFor(store, bad.id, finished)).toMatchObject({ status: 'failed', attempts: 1 });
    expect(await waitFor(store, flaky.id, finished)).toMatchObject({ status: 'failed', attempts: 2 });

    const first = await runner.deadLetters({ limit: 1 });
    expect(first.items.map((job) => job.id)).toEqual([flaky.id]);
    expect(first.nextCursor).not.toBeNull();
    const second = await runner.deadLetters({ limit: 1, cursor: first.nextCursor });
    expect(second.items.map((job) => job.id)).toEqual([bad.id]);
    expect(second.nextCursor).toBeNull();
    expect((await runner.deadLetters({ queue: Queues.Training })).items).toEqual([]);
    expect((await store.get(fine.id))?.status).toBe('queued');

    healed = true;
    const replayed = await runner.replay(flaky.id);
    expect(replayed).toMatchObject({ status: 'queued', attempts: 0, finished_at: null });
    expect(await waitFor(store, flaky.id, finished)).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      summary: { n: 2 },
      error: null,
    });
    expect((await runner.deadLetters()).items.map((job) => job.id)).toEqual([bad.id]);
    await expect(runner.replay(flaky.id)).rejects.toMatchObject({ code: ErrorCode.Conflict });
    await expect(runner.replay('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: ErrorCode.NotFound,
    });
  });
});

describe('InProcessTransport', () => {
  it('delivers an id once while it is pending, and again after a retry delay', async () => {
    const transport = new InProcessTransport();
    const deliveries: string[] = [];
    let first = true;
    await transport.enqueue({ id: 'a', queue: 'q', kind: 'k' });
    await transport.enqueue({ id: 'a', queue: 'q', kind: 'k' });
    expect(transport.pendingCount()).toBe(1);
    const done = deferred();
    await transport.start(['q'], async (job) => {
      deliveries.push(job.id);
      if (first) {
        first = false;
        return { type: 'retry', delayMs: 5 };
      }
      done.resolve();
      return { type: 'done' };
    });
    await done.promise;
    expect(deliveries).toEqual(['a', 'a']);
    await transport.close();
    await expect(transport.enqueue({ id: 'b', queue: 'q', kind: 'k' })).rejects.toMatchObject({
      code: ErrorCode.Unavailable,
    });
  });

  it('redelivers after a failed delivery and holds queues it does not serve', async () => {
    const transport = new InProcessTransport({ errorRetryDelayMs: 1 });
    let attempts = 0;
    const done = deferred();
    await transport.start(['q'], async () => {
      attempts += 1;
      if (attempts === 1) throw new Error('database unreachable');
      done.resolve();
      return { type: 'done' };
    });
    await transport.enqueue({ id: 'other', queue: 'not-served', kind: 'k' });
    await transport.enqueue({ id: 'a', queue: 'q', kind: 'k' });
    await done.promise;
    expect(attempts).toBe(2);
    expect(transport.pendingCount()).toBe(1);
    await transport.close();
  });
});
