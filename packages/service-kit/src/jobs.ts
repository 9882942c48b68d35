import type { Kysely } from 'kysely';
import type { Database } from '@vigil/db';
import { BullMqTransport, InProcessTransport, JobRepository, JobRunner } from '@vigil/queue';
import type { Logger } from './logger';
import type { PlatformEnvironment } from './platform-environment';

export interface RunningJobSystem {
  readonly system: JobRunner;
  readonly description: string;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Durable jobs: state in the database, delivery in-process (embedded) or through BullMQ when REDIS_URL
 * is set, so several worker processes share the work.
 */
export async function openJobSystem(
  environment: PlatformEnvironment,
  db: Kysely<Database>,
  log: Logger,
): Promise<RunningJobSystem> {
  // The runner tags its own lines with component=jobs.
  const logger = log;
  const transport = environment.REDIS_URL
    ? new BullMqTransport({
        connection: environment.REDIS_URL,
        prefix: environment.QUEUE_PREFIX,
        concurrency: environment.WORKER_CONCURRENCY,
        lockDurationMs: Math.round(environment.QUEUE_LOCK_DURATION_SECONDS * 1000),
        stalledIntervalMs: Math.round(environment.QUEUE_STALLED_INTERVAL_SECONDS * 1000),
        logger,
      })
    : new InProcessTransport({ concurrency: environment.WORKER_CONCURRENCY, logger });
  const system = new JobRunner({
    store: new JobRepository(db),
    transport,
    logger,
    leaseMs: Math.round(environment.QUEUE_LEASE_SECONDS * 1000),
    reconcileIntervalMs: Math.round(environment.QUEUE_RECONCILE_INTERVAL_SECONDS * 1000),
  });
  return {
    system,
    description: environment.REDIS_URL ? 'BullMQ (REDIS_URL)' : 'in-process',
    start: () => system.start(),
    close: () => system.close(),
  };
}
