import { ErrorCode, VigilError, describeError, errors, isVigilError } from '@vigil/contracts';
import pino, { type Logger } from 'pino';
import { toJsonValue } from './json';
import { assertJobName } from './new-job';
import { ProgressReporter } from './progress';
import { backoffDelayMs, isRetryableError, toJobError, type BackoffOptions } from './retry';
import type { DeliveryOutcome, JobRef, JobTransport } from './transport';
import {
  JobStatus,
  isTerminalStatus,
  type JobErrorInfo,
  type JobListQuery,
  type JobPage,
  type JobRow,
  type JobStore,
} from './types';

export interface JobContext {
  readonly jobId: string;
  readonly queue: string;
  readonly kind: string;
  /** 1-based; attempt > 1 means an earlier attempt failed or was interrupted. */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly createdBy: string;
  /** Aborted when the job is cancelled or the runner shuts down; stop soon after. */
  readonly signal: AbortSignal;
  /** Cheap to call often: writes are throttled, and the last value is always written. */
  progress(done: number, total?: number | null, step?: string | null): void;
  readonly log: Logger;
}

/** Returns the job's summary (any JSON value). Throw a VigilError with a non-retryable code to fail at once. */
export type JobHandler<P = unknown, S = unknown> = (payload: P, context: JobContext) => Promise<S> | S;

export interface RegisterOptions<P> {
  /** Validates the stored payload, e.g. a zod schema's parse; a throw fails the job as BAD_USER_INPUT. */
  readonly parse?: (payload: unknown) => P;
  /** Overrides the runner's maxAttempts for this kind. */
  readonly maxAttempts?: number;
}

export interface SubmitJob<P = unknown> {
  readonly queue: string;
  readonly kind: string;
  readonly payload: P;
  readonly createdBy: string;
  readonly idempotencyKey?: string | null;
}

export interface JobRunnerOptions {
  readonly store: JobStore;
  readonly transport: JobTransport;
  readonly logger?: Logger;
  /** Attempts per job, counting interrupted ones. Default 3. */
  readonly maxAttempts?: number;
  readonly backoff?: BackoffOptions;
  /** Minimum time between progress writes of one job. Default 250. */
  readonly progressIntervalMs?: number;
  /** How often running jobs look for a cancellation made by another process. Default 2000. */
  readonly cancelPollIntervalMs?: number;
  /** How long close() waits for running jobs before handing them back to the queue. Default 30000. */
  readonly shutdownTimeoutMs?: number;
  /** Reconcile the registered queues with the jobs table on start() (see reconcile()). Default true. */
  readonly recoverOnStart?: boolean;
  /**
   * The lease of a running job: its runner refreshes the row (heartbeat) every leaseMs / 3, and a running
   * row not refreshed for leaseMs is abandoned (its process died) and may be taken over. A delivery of a
   * job whose lease is fresh waits instead of running it a second time. 0 turns leases off: any delivered
   * running row is taken over at once. Default 30000.
   */
  readonly leaseMs?: number;
  /**
   * How often the registered queues are reconciled with the jobs table: every queued row, and every running
   * row whose lease expired, that the transport no longer holds is enqueued again (Redis restarted empty,
   * an enqueue that failed). Also done whenever the transport reconnects. 0 turns the timer off. Default 60000.
   */
  readonly reconcileIntervalMs?: number;
  /**
   * How long submit() waits for the transport to take a new job. Past it (or on an enqueue error) the job
   * stays queued in the jobs table, and the next reconciliation delivers it. Default 5000.
   */
  readonly enqueueTimeoutMs?: number;
}

/** What one reconciliation did. */
export interface ReconcileResult {
  /** Queued rows the transport had lost, enqueued again. */
  readonly queued: number;
  /** Running rows with an expired lease the transport had lost, enqueued again. */
  readonly abandoned: number;
}

export interface DeadLetterQuery {
  readonly queue?: string | readonly string[];
  readonly kind?: string;
  readonly limit?: number;
  readonly cursor?: string | null;
}

/** The reason of an aborted JobContext.signal. */
export class JobAbortedError extends Error {
  override readonly name = 'JobAbortedError';
  constructor(readonly reason: 'cancelled' | 'shutdown') {
    super(reason === 'cancelled' ? 'the job was cancelled' : 'the job runner is shutting down');
  }
}

interface Registration {
  readonly queue: string;
  readonly kind: string;
  readonly handler: JobHandler<unknown, unknown>;
  readonly parse: ((payload: unknown) => unknown) | undefined;
  readonly maxAttempts: number;
}

interface ActiveJob {
  readonly controller: AbortController;
  state: 'running' | 'cancelled' | 'released';
  readonly released: Promise<'released'>;
  release(): void;
}

type Settled = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

const DONE: DeliveryOutcome = { type: 'done' };
const RELEASE: DeliveryOutcome = { type: 'release' };
const RECOVERY_PAGE_SIZE = 500;

/**
 * Background jobs: submit() records a row and enqueues its id; handlers registered per (queue, kind) run
 * with retries, progress, cancellation and graceful shutdown. Queue names and kinds are the caller's
 * (declare them as const objects in the service). Delivery is at least once: handlers must be idempotent.
 */
export class JobRunner {
  private readonly store: JobStore;
  private readonly transport: JobTransport;
  private readonly logger: Logger;
  private readonly maxAttempts: number;
  private readonly backoff: BackoffOptions;
  private readonly progressIntervalMs: number;
  private readonly cancelPollIntervalMs: number;
  private readonly shutdownTimeoutMs: number;
  private readonly recoverOnStart: boolean;
  private readonly leaseMs: number;
  private readonly reconcileIntervalMs: number;
  private readonly enqueueTimeoutMs: number;
  private servedQueues: readonly string[] = [];
  private reconciling: Promise<ReconcileResult> | null = null;
  private reconcileAgain = false;
  private reconcileTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private unsubscribeReconnect: (() => void) | undefined;
  private readonly handlers = new Map<string, Registration>();
  private readonly active = new Map<string, ActiveJob>();
  private readonly executions = new Set<Promise<unknown>>();
  private started = false;
  private closing = false;
  private closed: Promise<void> | undefined;
  private poller: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(options: JobRunnerOptions) {
    this.store = options.store;
    this.transport = options.transport;
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ component: 'jobs' });
    this.maxAttempts = positiveInteger(options.maxAttempts ?? 3, 'maxAttempts');
    this.backoff = options.backoff ?? {};
    this.progressIntervalMs = options.progressIntervalMs ?? 250;
    this.cancelPollIntervalMs = options.cancelPollIntervalMs ?? 2000;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 30_000;
    this.recoverOnStart = options.recoverOnStart ?? true;
    this.leaseMs = nonNegative(options.leaseMs ?? 30_000, 'leaseMs');
    this.reconcileIntervalMs = nonNegative(options.reconcileIntervalMs ?? 60_000, 'reconcileIntervalMs');
    this.enqueueTimeoutMs = nonNegative(options.enqueueTimeoutMs ?? 5000, 'enqueueTimeoutMs');
  }

  register<P = unknown, S = unknown>(
    queue: string,
    kind: string,
    handler: JobHandler<P, S>,
    options: RegisterOptions<P> = {},
  ): void {
    assertJobName(queue, 'queue');
    assertJobName(kind, 'kind');
    if (this.started) throw errors.internal(`register('${queue}', '${kind}') after start()`);
    const key = handlerKey(queue, kind);
    if (this.handlers.has(key)) throw errors.internal(`a handler for ${queue}/${kind} is already registered`);
    this.handlers.set(key, {
      queue,
      kind,
      handler: handler as JobHandler<unknown, unknown>,
      parse: options.parse,
      maxAttempts: positiveInteger(options.maxAttempts ?? this.maxAttempts, 'maxAttempts'),
    });
  }

  /** Records the job and enqueues it. With an idempotency key already used, returns that job instead. */
  async submit<P>(input: SubmitJob<P>): Promise<JobRow> {
    if (this.closing) throw new VigilError(ErrorCode.Unavailable, 'the job runner is shutting down');
    const { job } = await this.store.create(input);
    if (job.status !== JobStatus.Queued) return job;
    await this.enqueueOrDefer(job);
    return job;
  }

  /**
   * Failed jobs (dead letters: non-retryable failures and jobs that used every attempt), newest first,
   * with cursor pagination.
   */
  deadLetters(query: DeadLetterQuery = {}): Promise<JobPage> {
    return this.store.list({
      ...(query.queue === undefined ? {} : { queue: query.queue }),
      ...(query.kind === undefined ? {} : { kind: query.kind }),
      status: JobStatus.Failed,
      order: 'newest',
      ...(query.limit === undefined ? {} : { limit: query.limit }),
      cursor: query.cursor ?? null,
    });
  }

  /**
   * Gives a dead letter a new life: failed -> queued with a renewed attempts budget, enqueued on the
   * transport. NOT_FOUND for an unknown id, CONFLICT for a job that is not failed. Auditing is the caller's.
   */
  async replay(jobId: string): Promise<JobRow> {
    const job = await this.store.replay(jobId);
    if (!job) {
      const existing = await this.store.get(jobId);
      if (!existing) throw errors.notFound('job', jobId);
      throw errors.conflict(`job ${jobId} is ${existing.status}: only a failed job (a dead letter) can be replayed`, {
        status: existing.status,
      });
    }
    await this.enqueueOrDefer(job);
    return job;
  }

  /**
   * Enqueues every row of the served queues that should be in the transport and is not: queued rows, and
   * running rows whose lease expired (their worker died). The jobs table is the truth; the transport only
   * delivers ids, and may have lost them (Redis restarted empty). Enqueueing is idempotent (the transport
   * id is the row id) and a delivered row that is finished or held by a live worker is not run again, so
   * a reconciliation racing a normal delivery costs a wasted delivery at most. One runs at a time; asking
   * during one runs another after it.
   */
  reconcile(): Promise<ReconcileResult> {
    if (this.reconciling) {
      this.reconcileAgain = true;
      return this.reconciling;
    }
    const run = (async () => {
      let total: ReconcileResult = { queued: 0, abandoned: 0 };
      do {
        this.reconcileAgain = false;
        const result = await this.reconcileOnce();
        total = { queued: total.queued + result.queued, abandoned: total.abandoned + result.abandoned };
      } while (this.reconcileAgain && !this.closing);
      return total;
    })();
    this.reconciling = run;
    void run
      .finally(() => {
        if (this.reconciling === run) this.reconciling = null;
      })
      .catch(() => undefined);
    return run;
  }

  async get(jobId: string): Promise<JobRow> {
    const job = await this.store.get(jobId);
    if (!job) throw errors.notFound('job', jobId);
    return job;
  }

  list(query?: JobListQuery): Promise<JobPage> {
    return this.store.list(query);
  }

  /**
   * Cancels a queued or running job: the row becomes 'cancelled' at once and a running handler's signal
   * aborts (here directly; in another process at its next progress write or cancel poll). Whatever the
   * handler still returns is discarded. A finished job is returned unchanged.
   */
  async cancel(jobId: string): Promise<JobRow> {
    const job = await this.store.cancel(jobId);
    if (!job) throw errors.notFound('job', jobId);
    if (job.status === JobStatus.Cancelled) this.abort(job.id, 'cancelled');
    return job;
  }

  /** Re-enqueues unfinished rows of the registered queues (unless told not to), then starts delivering. */
  async start(): Promise<void> {
    if (this.closing) throw new VigilError(ErrorCode.Unavailable, 'the job runner was closed');
    if (this.started) return;
    this.started = true;
    const queues = [...new Set([...this.handlers.values()].map((registration) => registration.queue))];
    this.servedQueues = queues;
    if (this.recoverOnStart && queues.length > 0) await this.reconcile();
    await this.transport.start(queues, (job) => this.deliver(job));
    if (this.cancelPollIntervalMs > 0) {
      this.poller = setInterval(() => void this.pollCancellations(), this.cancelPollIntervalMs);
      this.poller.unref();
    }
    if (queues.length > 0) {
      if (this.leaseMs > 0) {
        this.heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(10, Math.floor(this.leaseMs / 3)));
        this.heartbeatTimer.unref();
      }
      if (this.reconcileIntervalMs > 0) {
        this.reconcileTimer = setInterval(() => this.reconcileInBackground('timer'), this.reconcileIntervalMs);
        this.reconcileTimer.unref();
      }
      this.unsubscribeReconnect = this.transport.onReconnect?.(() => this.reconcileInBackground('reconnect'));
    }
    this.logger.info({ queues, transport: this.transport.name }, 'job runner started');
  }

  /**
   * Stops taking jobs, waits up to timeoutMs for running ones, then hands the rest back to the queue
   * (status 'queued', the attempt not counted) with their signals aborted, and closes the transport.
   */
  close(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    this.closed ??= this.shutdown(options.timeoutMs ?? this.shutdownTimeoutMs);
    return this.closed;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.closing = true;
    if (this.poller) clearInterval(this.poller);
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    this.unsubscribeReconnect?.();
    await this.transport.pause();
    // A reconciliation waits for Redis while it is down; shutdown does not wait for that.
    if (this.reconciling) await waitAll([this.reconciling.catch(() => undefined)], 1000);
    await waitAll([...this.executions], timeoutMs);
    for (const [jobId, entry] of this.active) {
      if (entry.state !== 'running') continue;
      try {
        await this.store.release(jobId);
      } catch (error) {
        this.logger.error({ jobId, err: describeError(error) }, 'could not hand job back to the queue');
      }
      this.abort(jobId, 'shutdown');
      this.logger.warn({ jobId }, 'job did not finish before shutdown; it stays queued for the next start');
    }
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.transport.close();
    this.logger.info('job runner closed');
  }

  private async reconcileOnce(): Promise<ReconcileResult> {
    const queues = this.servedQueues;
    if (queues.length === 0) return { queued: 0, abandoned: 0 };
    const queued = await this.enqueueMissing({ queue: queues, status: JobStatus.Queued });
    // With leases off, every running row counts as interrupted (the old single-process behaviour).
    const abandoned = await this.enqueueMissing({ queue: queues, status: JobStatus.Running, idleForMs: this.leaseMs });
    if (queued + abandoned > 0) this.logger.info({ queued, abandoned }, 're-enqueued jobs the transport did not hold');
    return { queued, abandoned };
  }

  private async enqueueMissing(query: JobListQuery): Promise<number> {
    let cursor: string | null = null;
    let count = 0;
    do {
      const page: JobPage = await this.store.list({ ...query, order: 'oldest', limit: RECOVERY_PAGE_SIZE, cursor });
      const missing = await this.transport.missing(page.items.map(refOf));
      for (const ref of missing) await this.transport.enqueue(ref);
      count += missing.length;
      cursor = page.nextCursor;
    } while (cursor && !this.closing);
    return count;
  }

  private reconcileInBackground(reason: 'timer' | 'reconnect'): void {
    if (this.closing) return;
    this.reconcile().catch((error: unknown) =>
      this.logger.warn({ reason, err: describeError(error) }, 'could not reconcile the queues; will try again'),
    );
  }

  /** The lease of the jobs this process runs; a dead process stops refreshing, and its jobs become stale. */
  private async heartbeat(): Promise<void> {
    const ids = [...this.active].filter(([, entry]) => entry.state === 'running').map(([id]) => id);
    if (ids.length === 0) return;
    try {
      await this.store.heartbeat(ids);
    } catch (error) {
      this.logger.warn({ err: describeError(error) }, 'could not refresh the lease of running jobs');
    }
  }

  /** Enqueues a recorded job; if the transport is down or slow, the job stays queued for the next reconciliation. */
  private async enqueueOrDefer(job: JobRow): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.transport.enqueue(refOf(job)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new VigilError(ErrorCode.Unavailable, 'the queue did not answer in time')),
            this.enqueueTimeoutMs,
          );
          timer.unref();
        }),
      ]);
    } catch (error) {
      // Never dropped: the row is the truth, and reconciliation enqueues it once the transport is back.
      this.logger.warn(
        { jobId: job.id, queue: job.queue, err: describeError(error) },
        'could not enqueue job now; it stays queued and is delivered at the next reconciliation',
      );
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  private async deliver(ref: JobRef): Promise<DeliveryOutcome> {
    // Already running in this process (e.g. redelivered after a stall): one run at a time.
    if (this.active.has(ref.id)) return DONE;
    let resolveReleased: () => void = () => undefined;
    const entry: ActiveJob = {
      controller: new AbortController(),
      state: 'running',
      released: new Promise<'released'>((resolve) => {
        resolveReleased = () => resolve('released');
      }),
      release: () => resolveReleased(),
    };
    this.active.set(ref.id, entry);
    const execution = this.prepareAndExecute(ref, entry);
    this.executions.add(execution);
    try {
      return await execution;
    } finally {
      this.executions.delete(execution);
      if (this.active.get(ref.id) === entry) this.active.delete(ref.id);
    }
  }

  private async prepareAndExecute(ref: JobRef, entry: ActiveJob): Promise<DeliveryOutcome> {
    const lease = this.leaseMs > 0 ? { staleAfterMs: this.leaseMs } : {};
    // The common case in one round trip: claim the row (queued, or running with an expired lease, with
    // attempts left). Anything else takes the slow path below, which reads the row to see why.
    const known = this.handlers.get(handlerKey(ref.queue, ref.kind));
    if (known && !this.closing && entry.state === 'running') {
      const claimed = await this.store.markRunning(ref.id, { ...lease, maxAttempts: known.maxAttempts });
      if (claimed && claimed.queue === ref.queue && claimed.kind === ref.kind) {
        return this.execute(claimed, known, entry);
      }
      if (claimed) {
        // Only a transport that mislabels ids gets here; hand the claim back and decide from the row.
        await this.store.release(claimed.id);
      }
    }
    const row = await this.store.get(ref.id);
    if (!row) {
      this.logger.warn({ jobId: ref.id }, 'delivered job does not exist; dropping it');
      return DONE;
    }
    if (isTerminalStatus(row.status) || entry.state === 'cancelled') return DONE;
    if (this.closing) return RELEASE;
    const registration = this.handlers.get(handlerKey(row.queue, row.kind));
    if (!registration) {
      await this.failForGood(row, {
        code: ErrorCode.Internal,
        message: `no handler is registered for job kind '${row.kind}' on queue '${row.queue}'`,
        retryable: false,
        attempt: row.attempts,
      });
      return DONE;
    }
    if (row.attempts >= registration.maxAttempts) {
      const interrupted = row.status === JobStatus.Running;
      const failed = await this.failForGood(
        row,
        {
          code: ErrorCode.Internal,
          message: interrupted
            ? `the job was interrupted (its process stopped) on attempt ${row.attempts} of ${registration.maxAttempts}; giving up`
            : `the job has used all ${registration.maxAttempts} attempts`,
          details: { attempts: row.attempts, maxAttempts: registration.maxAttempts, interrupted },
          retryable: false,
          attempt: row.attempts,
        },
        lease,
      );
      return failed ? DONE : this.afterRefusal(row.id);
    }
    const running = await this.store.markRunning(row.id, lease);
    if (!running) return this.afterRefusal(row.id);
    return this.execute(running, registration, entry);
  }

  /**
   * The row could not be claimed. If a live worker holds it (a redelivery after a lost Redis or a stall of a
   * worker that is in fact alive), look again when its lease could have expired, rather than running it twice
   * at once; a finished row needs nothing more.
   */
  private async afterRefusal(jobId: string): Promise<DeliveryOutcome> {
    const row = await this.store.get(jobId);
    if (row?.status === JobStatus.Running) return { type: 'retry', delayMs: Math.max(this.leaseMs, 10) };
    if (row?.status === JobStatus.Queued) return { type: 'retry', delayMs: 10 };
    return DONE;
  }

  private async execute(row: JobRow, registration: Registration, entry: ActiveJob): Promise<DeliveryOutcome> {
    const attempt = row.attempts;
    const log = this.logger.child({ jobId: row.id, queue: row.queue, kind: row.kind, attempt });
    const progress = new ProgressReporter(this.store, row.id, this.progressIntervalMs, log, () =>
      this.abort(row.id, 'cancelled'),
    );
    const context: JobContext = {
      jobId: row.id,
      queue: row.queue,
      kind: row.kind,
      attempt,
      maxAttempts: registration.maxAttempts,
      createdBy: row.created_by,
      signal: entry.controller.signal,
      progress: (done, total, step) => progress.report(done, total, step),
      log,
    };
    log.debug('job started');
    const run = (async () => registration.handler(parsePayload(registration, row.payload), context))();
    const settled = await Promise.race([
      run.then(
        (value): Settled => ({ ok: true, value }),
        (error: unknown): Settled => ({ ok: false, error }),
      ),
      entry.released,
    ]);
    try {
      if (settled === 'released' || entry.state === 'released') return RELEASE;
      if (entry.state === 'cancelled') {
        log.info('job cancelled');
        return DONE;
      }
      let outcome: Settled = settled;
      let summary: unknown = null;
      if (outcome.ok) {
        try {
          summary = toJsonValue(outcome.value, 'job summary');
        } catch (error) {
          outcome = { ok: false, error: unserialisableSummary(error) };
        }
      }
      await progress.flush();
      // Re-read: a cancel or shutdown may have come in while the last progress write was under way.
      if (currentState(entry) === 'cancelled') return DONE;
      if (currentState(entry) === 'released') return RELEASE;
      if (outcome.ok) {
        await this.store.succeed(row.id, summary);
        log.info('job succeeded');
        return DONE;
      }
      return await this.recordFailure(row, registration, outcome.error, log);
    } finally {
      progress.stop();
    }
  }

  private async recordFailure(
    row: JobRow,
    registration: Registration,
    error: unknown,
    log: Logger,
  ): Promise<DeliveryOutcome> {
    const attempt = row.attempts;
    const retryable = isRetryableError(error) && attempt < registration.maxAttempts;
    const failure = toJobError(error, attempt, retryable);
    const updated = await this.store.fail(row.id, failure, { retryable });
    const logged = { err: error, retryable };
    if (updated?.status === JobStatus.Queued) {
      const delayMs = backoffDelayMs(attempt, this.backoff);
      log.warn({ ...logged, delayMs }, 'job attempt failed; retrying');
      return { type: 'retry', delayMs };
    }
    log.error(logged, 'job failed');
    return DONE;
  }

  private async failForGood(
    row: JobRow,
    failure: JobErrorInfo,
    lease: { readonly staleAfterMs?: number } = {},
  ): Promise<JobRow | null> {
    const failed = await this.store.fail(row.id, failure, { retryable: false, ...lease });
    if (failed) this.logger.error({ jobId: row.id, queue: row.queue, kind: row.kind, error: failure }, 'job failed');
    return failed;
  }

  private abort(jobId: string, reason: 'cancelled' | 'shutdown'): void {
    const entry = this.active.get(jobId);
    if (!entry || entry.state !== 'running') return;
    entry.state = reason === 'cancelled' ? 'cancelled' : 'released';
    entry.controller.abort(new JobAbortedError(reason));
    if (reason === 'shutdown') entry.release();
  }

  /** Cancellations made through another process only show in the row. */
  private async pollCancellations(): Promise<void> {
    if (this.polling || this.active.size === 0) return;
    this.polling = true;
    try {
      for (const [jobId, entry] of [...this.active]) {
        if (entry.state !== 'running') continue;
        const row = await this.store.get(jobId);
        if (row?.status === JobStatus.Cancelled) this.abort(jobId, 'cancelled');
      }
    } catch (error) {
      this.logger.warn({ err: describeError(error) }, 'could not check running jobs for cancellation');
    } finally {
      this.polling = false;
    }
  }
}

function currentState(entry: ActiveJob): ActiveJob['state'] {
  return entry.state;
}

function handlerKey(queue: string, kind: string): string {
  return `${queue}\u0000${kind}`;
}

function refOf(job: JobRow): JobRef {
  return { id: job.id, queue: job.queue, kind: job.kind };
}

function parsePayload(registration: Registration, payload: unknown): unknown {
  if (!registration.parse) return payload;
  try {
    return registration.parse(payload);
  } catch (error) {
    if (isVigilError(error)) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw errors.badInput(`invalid payload for ${registration.queue}/${registration.kind}: ${message}`);
  }
}

function unserialisableSummary(error: unknown): VigilError {
  const message = isVigilError(error) ? error.message : 'job summary is not JSON-serialisable';
  return new VigilError(ErrorCode.Internal, message, { retryable: false }, { cause: error });
}

function nonNegative(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 0) throw errors.badInput(`${name} must be >= 0`, { [name]: value });
  return value;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1)
    throw errors.badInput(`${name} must be a positive integer`, { [name]: value });
  return value;
}

async function waitAll(promises: readonly Promise<unknown>[], timeoutMs: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(promises),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  if (timer) clearTimeout(timer);
}
