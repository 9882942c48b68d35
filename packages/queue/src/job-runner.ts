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
  /** Re-enqueue queued and interrupted (running) rows of the registered queues on start(). Default true. */
  readonly recoverOnStart?: boolean;
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
    const { job, created } = await this.store.create(input);
    if (job.status !== JobStatus.Queued) return job;
    try {
      await this.transport.enqueue(refOf(job));
    } catch (error) {
      this.logger.error({ jobId: job.id, err: describeError(error) }, 'could not enqueue job');
      if (created) {
        const failure: JobErrorInfo = {
          code: ErrorCode.Unavailable,
          message: 'the job could not be queued',
          retryable: false,
          attempt: 0,
        };
        await this.store.fail(job.id, failure, { retryable: false }).catch(() => undefined);
      }
      throw new VigilError(
        ErrorCode.Unavailable,
        'the job could not be queued; try again',
        { jobId: job.id },
        {
          cause: error,
        },
      );
    }
    return job;
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
    if (this.recoverOnStart && queues.length > 0) await this.recover(queues);
    await this.transport.start(queues, (job) => this.deliver(job));
    if (this.cancelPollIntervalMs > 0) {
      this.poller = setInterval(() => void this.pollCancellations(), this.cancelPollIntervalMs);
      this.poller.unref();
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
    await this.transport.pause();
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
    await this.transport.close();
    this.logger.info('job runner closed');
  }

  private async recover(queues: readonly string[]): Promise<void> {
    let cursor: string | null = null;
    let count = 0;
    do {
      const page: JobPage = await this.store.list({
        queue: queues,
        status: [JobStatus.Queued, JobStatus.Running],
        order: 'oldest',
        limit: RECOVERY_PAGE_SIZE,
        cursor,
      });
      for (const job of page.items) await this.transport.enqueue(refOf(job));
      count += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    if (count > 0) this.logger.info({ count }, 're-enqueued unfinished jobs');
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
      await this.failForGood(row, {
        code: ErrorCode.Internal,
        message: interrupted
          ? `the job was interrupted (its process stopped) on attempt ${row.attempts} of ${registration.maxAttempts}; giving up`
          : `the job has used all ${registration.maxAttempts} attempts`,
        details: { attempts: row.attempts, maxAttempts: registration.maxAttempts, interrupted },
        retryable: false,
        attempt: row.attempts,
      });
      return DONE;
    }
    const running = await this.store.markRunning(row.id);
    if (!running) return DONE;
    return this.execute(running, registration, entry);
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

  private async failForGood(row: JobRow, failure: JobErrorInfo): Promise<void> {
    await this.store.fail(row.id, failure, { retryable: false });
    this.logger.error({ jobId: row.id, queue: row.queue, kind: row.kind, error: failure }, 'job failed');
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
