import type { Express, RequestHandler } from 'express';
import { z } from 'zod';
import type { Kysely } from 'kysely';
import type { Database } from '@vigil/db';
import { describeError, ErrorCode, VigilError } from '@vigil/contracts';
import { KyselyAuditTrail, type AuditTrail } from './audit';
import { EnvironmentError, env } from './environment';
import { healthHandler, type HealthCheck } from './health';
import { createHttpApp, listen, mountSubgraph, trustGateway } from './http';
import { openStorage, type Storage } from './infrastructure';
import type { JobSystem } from './jobs-port';
import { openJobSystem } from './jobs';
import { onShutdown } from './lifecycle';
import type { Logger } from './logger';
import type { PlatformEnvironment } from './platform-environment';
import { createSubgraphServer, type SubgraphDefinition } from './subgraph';

const ONE_PROCESS_HINT = 'use `vigil start` to run everything in one process without it';

/**
 * Fields that are optional in the embedded mode but required when each service runs alone. Declared as
 * plain required fields (not a refinement) so a bad configuration lists every missing one at once.
 */
export const distributedEnv = {
  databaseUrl: () =>
    z
      .string({ error: `required in distributed mode: every service shares one Postgres (${ONE_PROCESS_HINT})` })
      .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  redisUrl: () =>
    z
      .string({
        error:
          'required in distributed mode: job workers cannot run on an in-process queue, which other processes ' +
          `cannot share, and jobs submitted here would never reach them (${ONE_PROCESS_HINT})`,
      })
      .regex(/^rediss?:\/\//, 'must be a redis:// URL'),
  gatewaySecret: () =>
    z
      .string({ error: 'required: the secret the gateway signs caller identities with (the same value everywhere)' })
      .min(32, 'must be at least 32 characters'),
  host: () => z.string().default('0.0.0.0'),
  runWorkers: () => env.bool(true),
};

/** What a service's main receives once its environment is valid. */
export interface DistributedServiceEnvironment extends PlatformEnvironment {
  readonly PORT: number;
  readonly HOST: string;
  readonly RUN_WORKERS: boolean;
  readonly GATEWAY_SECRET: string;
  readonly DATABASE_URL: string;
  readonly REDIS_URL: string;
}

export interface ServiceInfrastructure {
  readonly storage: Storage;
  readonly db: Kysely<Database>;
  readonly jobs: JobSystem;
  readonly audit: AuditTrail;
  readonly log: Logger;
}

/** One service, as its main wires it: the subgraph, its workers, and any REST routes. */
export interface ServiceParts {
  readonly subgraph: SubgraphDefinition;
  registerWorkers(): void;
  /** Mounts extra routes; `trusted` admits only requests signed by the gateway. */
  readonly routes?: (app: Express, trusted: RequestHandler) => void;
}

export interface RunningService {
  readonly url: string;
  readonly port: number;
  readonly app: Express;
  stop(): Promise<void>;
}

/** Fails with a clear message when the database has not been migrated, instead of at the first request. */
async function assertSchema(db: Kysely<Database>): Promise<void> {
  try {
    await db.selectFrom('audit_log').select('id').limit(1).execute();
  } catch (error) {
    throw new VigilError(
      ErrorCode.Unavailable,
      `the database at DATABASE_URL has no Vigil schema (${describeError(error).message}): run \`vigil migrate\` first`,
      {},
      { cause: error },
    );
  }
}

/**
 * Starts one subgraph service on its own: the shared database, object store and BullMQ queues, the subgraph
 * at /graphql behind gateway trust, /healthz, and the job workers unless RUN_WORKERS is false.
 */
export async function startSubgraphService(options: {
  readonly name: string;
  readonly environment: DistributedServiceEnvironment;
  readonly log: Logger;
  readonly build: (infrastructure: ServiceInfrastructure) => ServiceParts | Promise<ServiceParts>;
  /** Stop on SIGTERM/SIGINT (default true; tests that start services in-process pass false). */
  readonly handleSignals?: boolean;
}): Promise<RunningService> {
  const { environment, log } = options;
  const storage = await openStorage(environment, { log, migrate: false, localImportsByDefault: false });
  const db = storage.database.db;
  let jobs: Awaited<ReturnType<typeof openJobSystem>> | null = null;
  try {
    await assertSchema(db);
    if (!environment.S3_BUCKET) {
      log.warn(
        { objects: storage.store.description },
        'S3_BUCKET is unset: objects are on local disk, so every service must share that folder',
      );
    }
    jobs = await openJobSystem(environment, db, log);
    const audit = new KyselyAuditTrail(db);
    const parts = await options.build({ storage, db, jobs: jobs.system, audit, log });
    const server = await createSubgraphServer(parts.subgraph, { gatewaySecret: environment.GATEWAY_SECRET, log });

    const app = createHttpApp();
    const checks: HealthCheck[] = [
      { name: 'database', check: async () => void (await db.selectFrom('audit_log').select('id').limit(1).execute()) },
      { name: 'objects', check: async () => void (await storage.store.head('healthz')) },
    ];
    app.get('/healthz', healthHandler(checks));
    mountSubgraph(app, server, log);
    parts.routes?.(app, trustGateway(environment.GATEWAY_SECRET, log));

    if (environment.RUN_WORKERS) parts.registerWorkers();
    await jobs.start();

    const http = await listen(app, environment.PORT, environment.HOST);
    log.info(
      {
        url: http.url,
        graphql: `${http.url}/graphql`,
        workers: environment.RUN_WORKERS,
        queue: jobs.description,
        ...storage.description,
      },
      `${options.name} service listening`,
    );
    const runningJobs = jobs;
    let stopped: Promise<void> | null = null;
    const stop = () =>
      (stopped ??= (async () => {
        await http.close();
        await runningJobs.close();
        await server.apollo.stop();
        await storage.database.close();
      })());
    if (options.handleSignals ?? true) onShutdown(log, stop);
    return { url: http.url, port: http.port, app, stop };
  } catch (error) {
    await jobs?.close().catch(() => undefined);
    await storage.database.close().catch(() => undefined);
    throw error;
  }
}

/**
 * The body of a `main.js`: runs `start`, and on failure prints why (every configuration problem at once)
 * and exits non-zero, so a misconfigured container fails fast and says what to fix.
 */
export function runMain(name: string, start: () => Promise<unknown>): void {
  start().catch((error: unknown) => {
    const message =
      error instanceof EnvironmentError
        ? error.message
        : `failed to start: ${error instanceof Error ? error.message : String(error)}`;
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(1);
  });
}
