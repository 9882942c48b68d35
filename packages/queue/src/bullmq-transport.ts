import { describeError } from '@vigil/contracts';
import { DelayedError, Queue, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import type { DeliverJob, JobRef, JobTransport } from './transport';

export interface BullMqTransportOptions {
  /** A redis:// URL, or an ioredis client created with `maxRetriesPerRequest: null` (BullMQ needs it). */
  readonly connection: string | Redis;
  /** Redis key prefix; tests use a unique one per run. Default 'vigil'. */
  readonly prefix?: string;
  /** Jobs of one queue run at most this many at a time in this process. Default 1. */
  readonly concurrency?: number;
  readonly queueConcurrency?: Readonly<Record<string, number>>;
  /** How long a worker's lock on a job lasts without renewal; a dead worker's job is stalled after it. */
  readonly lockDurationMs?: number;
  /** How often workers look for stalled jobs (whose worker died) and hand them to another worker. */
  readonly stalledIntervalMs?: number;
  /** Stalls before BullMQ gives up on a job; the jobs table's attempts limit the retries as well. */
  readonly maxStalledCount?: number;
  /**
   * BullMQ's own retries (exponential backoff) for deliveries that fail outside any handler, e.g. when the
   * database is unreachable. Handler failures are retried by the runner instead. Default 10 and 1000 ms.
   */
  readonly deliveryAttempts?: number;
  readonly deliveryBackoffMs?: number;
  readonly logger?: Logger;
}

/**
 * Distributed mode: one BullMQ queue per job queue in Redis, a Worker per served queue in this process.
 * The BullMQ job id is the jobs row id, so enqueueing a job that is already waiting, delayed or active
 * does nothing. Retries decided by the runner move the job to BullMQ's delayed set (not counted as BullMQ
 * attempts); a worker that dies mid-job leaves it stalled, and BullMQ hands it to another worker.
 * Finished BullMQ jobs are removed at once: results live in the jobs table.
 */
export class BullMqTransport implements JobTransport {
  readonly name = 'bullmq';
  private readonly connection: Redis;
  private readonly ownsConnection: boolean;
  private readonly prefix: string;
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private readonly logger: Logger;
  private readonly reconnectListeners = new Set<() => void>();
  private wasReady = false;
  private closed = false;

  constructor(private readonly options: BullMqTransportOptions) {
    if (typeof options.connection === 'string') {
      this.connection = new Redis(options.connection, { maxRetriesPerRequest: null });
      this.ownsConnection = true;
    } else {
      this.connection = options.connection;
      this.ownsConnection = false;
    }
    this.prefix = options.prefix ?? 'vigil';
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ transport: this.name });
    this.wasReady = this.connection.status === 'ready';
    // ioredis emits 'ready' on the first connection and again after every reconnection. A Redis that
    // keeps nothing on disk comes back empty after a restart, so the runner reconciles on each comeback.
    this.connection.on('ready', () => {
      if (!this.wasReady) {
        this.wasReady = true;
        return;
      }
      if (this.closed) return;
      this.logger.warn('Redis connection is back; reconciling queued jobs with the jobs table');
      for (const listener of this.reconnectListeners) listener();
    });
  }

  async start(queues: readonly string[], deliver: DeliverJob): Promise<void> {
    const processor = async (job: Job, token?: string): Promise<void> => {
      if (!job.id) return;
      const outcome = await deliver({ id: job.id, queue: job.queueName, kind: job.name });
      if (outcome.type === 'retry') {
        await job.moveToDelayed(Date.now() + outcome.delayMs, token);
        throw new DelayedError();
      }
      if (outcome.type === 'release') {
        await job.moveToWait(token);
        throw new WaitingError();
      }
    };
    for (const queue of queues) {
      const worker = new Worker(queue, processor, {
        connection: this.connection,
        prefix: this.prefix,
        concurrency: Math.max(1, this.options.queueConcurrency?.[queue] ?? this.options.concurrency ?? 1),
        ...(this.options.lockDurationMs === undefined ? {} : { lockDuration: this.options.lockDurationMs }),
        ...(this.options.stalledIntervalMs === undefined ? {} : { stalledInterval: this.options.stalledIntervalMs }),
        maxStalledCount: this.options.maxStalledCount ?? 5,
      });
      worker.on('error', (error) => this.logger.error({ queue, err: describeError(error) }, 'BullMQ worker error'));
      worker.on('failed', (job, error) =>
        this.logger.warn({ queue, jobId: job?.id, err: describeError(error) }, 'BullMQ delivery failed'),
      );
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
  }

  async enqueue(job: JobRef, options: { readonly delayMs?: number } = {}): Promise<void> {
    await this.queue(job.queue).add(
      job.kind,
      { jobId: job.id },
      {
        jobId: job.id,
        delay: Math.max(0, options.delayMs ?? 0),
        attempts: this.options.deliveryAttempts ?? 10,
        backoff: { type: 'exponential', delay: this.options.deliveryBackoffMs ?? 1000 },
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  async missing(jobs: readonly JobRef[]): Promise<JobRef[]> {
    if (jobs.length === 0) return [];
    // BullMQ keeps a job's hash at <prefix>:<queue>:<id> while it is waiting, delayed or active; finished
    // jobs are removed at once (removeOnComplete/removeOnFail), so a missing hash means nothing holds it.
    const pipeline = this.connection.pipeline();
    for (const job of jobs) pipeline.exists(`${this.prefix}:${job.queue}:${job.id}`);
    const results = (await pipeline.exec()) ?? [];
    return jobs.filter((_, index) => {
      const [error, exists] = results[index] ?? [null, 0];
      if (error) throw error;
      return Number(exists) === 0;
    });
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  async pause(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.pause(true)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reconnectListeners.clear();
    // Not forced: the runner has already finished or handed back every job, so this returns promptly.
    await Promise.all(this.workers.map((worker) => worker.close()));
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    if (this.ownsConnection) await this.connection.quit().catch(() => undefined);
  }

  private queue(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      queue.on('error', (error) => this.logger.error({ queue: name, err: describeError(error) }, 'BullMQ queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }
}
