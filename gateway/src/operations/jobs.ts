import type { Database, Kysely } from '@vigil/db';
import { BullMqTransport, JobRepository, JobRunner, type JobRef, type JobTransport } from '@vigil/queue';
import type { Logger, PlatformEnvironment } from '@vigil/service-kit';

/**
 * A transport that delivers nothing: the jobs table is the truth, and the workers' periodic reconciliation
 * (QUEUE_RECONCILE_INTERVAL_SECONDS) enqueues every queued row their transport does not hold.
 */
class TableOnlyTransport implements JobTransport {
  readonly name = 'jobs-table';
  async start(): Promise<void> {}
  async enqueue(): Promise<void> {}
  async missing(): Promise<JobRef[]> {
    return [];
  }
  async pause(): Promise<void> {}
  async close(): Promise<void> {}
}

export interface OperationsJobs {
  readonly runner: JobRunner;
  readonly description: string;
  close(): Promise<void>;
}

/**
 * The distributed gateway's job system: it runs no handlers, it only puts replayed dead letters back on
 * their queue. With REDIS_URL that is BullMQ (the workers get a replay at once); without, the row alone,
 * which the workers' next reconciliation delivers.
 */
export function openOperationsJobs(
  environment: Pick<PlatformEnvironment, 'REDIS_URL' | 'QUEUE_PREFIX'>,
  db: Kysely<Database>,
  log: Logger,
): OperationsJobs {
  const transport: JobTransport = environment.REDIS_URL
    ? new BullMqTransport({ connection: environment.REDIS_URL, prefix: environment.QUEUE_PREFIX, logger: log })
    : new TableOnlyTransport();
  const runner = new JobRunner({ store: new JobRepository(db), transport, logger: log, reconcileIntervalMs: 0 });
  if (!environment.REDIS_URL) {
    log.warn('REDIS_URL is unset: a replayed dead letter waits for the workers\u2019 next queue reconciliation');
  }
  return {
    runner,
    description: environment.REDIS_URL ? 'BullMQ (REDIS_URL)' : 'jobs table only (no REDIS_URL)',
    close: () => runner.close({ timeoutMs: 1000 }),
  };
}
