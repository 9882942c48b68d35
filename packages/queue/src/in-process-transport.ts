import { ErrorCode, VigilError, describeError } from '@vigil/contracts';
import pino, { type Logger } from 'pino';
import type { DeliverJob, DeliveryOutcome, JobRef, JobTransport } from './transport';

export interface InProcessTransportOptions {
  /** Jobs of one queue run at most this many at a time. Default 1. */
  readonly concurrency?: number;
  /** Per-queue overrides of `concurrency`. */
  readonly queueConcurrency?: Readonly<Record<string, number>>;
  /** Delay before redelivering when the delivery itself failed (e.g. the database was unreachable). */
  readonly errorRetryDelayMs?: number;
  readonly logger?: Logger;
}

interface QueueState {
  readonly pending: JobRef[];
  active: number;
}

/**
 * Embedded mode (one Node process): a FIFO per queue with a concurrency limit, in memory. Nothing here is
 * durable; the runner re-enqueues unfinished rows from the jobs table when it starts.
 */
export class InProcessTransport implements JobTransport {
  readonly name = 'in-process';
  private readonly queues = new Map<string, QueueState>();
  /** Ids waiting, delayed or being delivered: enqueueing one of these again does nothing. */
  private readonly known = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly deliveries = new Set<Promise<void>>();
  private readonly served = new Set<string>();
  private deliver: DeliverJob | undefined;
  private accepting = false;
  private closed = false;
  private readonly concurrency: number;
  private readonly queueConcurrency: Readonly<Record<string, number>>;
  private readonly errorRetryDelayMs: number;
  private readonly logger: Logger;

  constructor(options: InProcessTransportOptions = {}) {
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.queueConcurrency = options.queueConcurrency ?? {};
    this.errorRetryDelayMs = options.errorRetryDelayMs ?? 5000;
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ transport: this.name });
  }

  async start(queues: readonly string[], deliver: DeliverJob): Promise<void> {
    this.assertOpen();
    this.deliver = deliver;
    for (const queue of queues) this.served.add(queue);
    this.accepting = true;
    for (const queue of this.served) this.pump(queue);
  }

  async enqueue(job: JobRef, options: { readonly delayMs?: number } = {}): Promise<void> {
    this.assertOpen();
    if (this.known.has(job.id)) return;
    this.known.add(job.id);
    const delayMs = options.delayMs ?? 0;
    if (delayMs > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(job.id);
        this.push(job);
      }, delayMs);
      // A pending retry must not keep the process alive; the jobs table still has it.
      timer.unref();
      this.timers.set(job.id, timer);
      return;
    }
    this.push(job);
  }

  async missing(jobs: readonly JobRef[]): Promise<JobRef[]> {
    return jobs.filter((job) => !this.known.has(job.id));
  }

  async pause(): Promise<void> {
    this.accepting = false;
  }

  async close(): Promise<void> {
    this.accepting = false;
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const state of this.queues.values()) state.pending.length = 0;
    await Promise.allSettled([...this.deliveries]);
    this.known.clear();
  }

  /** Jobs waiting or delayed (not being delivered), for tests and health output. */
  pendingCount(): number {
    let count = this.timers.size;
    for (const state of this.queues.values()) count += state.pending.length;
    return count;
  }

  private push(job: JobRef): void {
    if (this.closed) return;
    this.state(job.queue).pending.push(job);
    this.pump(job.queue);
  }

  private state(queue: string): QueueState {
    let state = this.queues.get(queue);
    if (!state) {
      state = { pending: [], active: 0 };
      this.queues.set(queue, state);
    }
    return state;
  }

  private pump(queue: string): void {
    const deliver = this.deliver;
    if (!this.accepting || !deliver || !this.served.has(queue)) return;
    const state = this.state(queue);
    const limit = Math.max(1, this.queueConcurrency[queue] ?? this.concurrency);
    while (state.active < limit && state.pending.length > 0) {
      const job = state.pending.shift();
      if (!job) break;
      state.active += 1;
      const delivery = this.run(job, deliver).finally(() => {
        state.active -= 1;
        this.deliveries.delete(delivery);
        this.pump(queue);
      });
      this.deliveries.add(delivery);
    }
  }

  private async run(job: JobRef, deliver: DeliverJob): Promise<void> {
    let outcome: DeliveryOutcome;
    try {
      outcome = await deliver(job);
    } catch (error) {
      this.logger.error({ jobId: job.id, err: describeError(error) }, 'job delivery failed; will deliver again');
      outcome = { type: 'retry', delayMs: this.errorRetryDelayMs };
    }
    this.known.delete(job.id);
    if (outcome.type === 'retry' && !this.closed) {
      await this.enqueue(job, { delayMs: outcome.delayMs });
    }
    // 'release' happens only at shutdown: the row is queued again and the next start() recovers it.
  }

  private assertOpen(): void {
    if (this.closed) throw new VigilError(ErrorCode.Unavailable, 'the job transport is closed');
  }
}
