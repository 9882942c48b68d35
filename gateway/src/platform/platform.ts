import path from 'node:path';
import { writeFile, rm } from 'node:fs/promises';
import express, { type Express, type RequestHandler } from 'express';
import { SYSTEM_PRINCIPAL, Role } from '@vigil/contracts';
import { createIngestionService } from '@vigil/ingestion-service';
import { createDatasetService } from '@vigil/dataset-service';
import { createTrainingService, s3PackageWriter } from '@vigil/training-service';
import { createInferenceService, inferenceConfigFrom } from '@vigil/inference-service';
import {
  KyselyAuditTrail,
  createSubgraphServer,
  customerS3Client,
  listen,
  signPrincipal,
  trustGateway,
  openJobSystem,
  openStorage,
  PRINCIPAL_HEADER,
  REQUEST_ID_HEADER,
  type Logger,
  type PlatformEnvironment,
  type RunningJobSystem,
  type SubgraphServer,
} from '@vigil/service-kit';
import { ApiKeyService, KyselyApiKeyRepository } from '../auth/api-keys';
import { AccessKeyPairService, KyselyAccessKeyPairRepository } from '../auth/access-key-pairs';
import { inferenceHttpClient, mountLookout, s3EvaluationWriter } from '../lookout';
import { accessSubgraph } from '../access/subgraph';
import { DeadLetterService, operationsSubgraph } from '../operations';
import { AuditLogReader } from '../access/audit-query';
import { composeSupergraph, InProcessDataSource } from '../federation';
import { createGatewayApp } from '../http/app';
import { identityHeaders, type GatewayContext } from '../context';
import { persistentSecret, writeAdminKey, ADMIN_KEY_FILE } from './secrets';

export interface PlatformOptions {
  readonly environment: PlatformEnvironment;
  readonly port: number;
  readonly host: string;
  readonly log: Logger;
  /** Run the job workers in this process (default true). */
  readonly workers?: boolean;
}

export interface RunningPlatform {
  readonly url: string;
  readonly port: number;
  /** Set on the very first start, when the platform created its first admin key. */
  readonly firstAdminKey: string | null;
  readonly adminKeyFile: string | null;
  readonly app: Express;
  stop(): Promise<void>;
}

const SERVER_FILE = 'server.json';

/**
 * Vigil in one process: every subgraph, the gateway and the job workers, over one database, one object store
 * and one job system. With no configuration that is PGlite, local disk and an in-process queue under
 * VIGIL_DATA_DIR; DATABASE_URL, S3_BUCKET and REDIS_URL swap in the real services.
 */
export async function startPlatform(options: PlatformOptions): Promise<RunningPlatform> {
  const { environment, log } = options;
  const dataDir = path.resolve(environment.VIGIL_DATA_DIR);
  const storage = await openStorage(environment, { log, migrate: true, localImportsByDefault: true });
  const db = storage.database.db;
  const secret = environment.GATEWAY_SECRET ?? (await persistentSecret(dataDir, 'gateway-secret'));
  const audit = new KyselyAuditTrail(db);
  let jobs: RunningJobSystem | null = null;
  try {
    jobs = await openJobSystem(environment, db, log);
    const limits = {
      maxUploadBytes: environment.UPLOAD_MAX_BYTES,
      maxImagePixels: environment.IMAGE_MAX_PIXELS,
      allowLocalFiles: storage.allowLocalFiles,
    };
    const ingestion = createIngestionService({
      db,
      store: storage.store,
      sources: storage.sources,
      jobs: jobs.system,
      audit,
      log,
      config: limits,
    });
    const dataset = createDatasetService({
      db,
      store: storage.store,
      sources: storage.sources,
      catalog: ingestion.catalog,
      jobs: jobs.system,
      audit,
      log,
      config: {
        maxImageBytes: environment.UPLOAD_MAX_BYTES,
        maxManifestBytes: environment.MANIFEST_MAX_BYTES,
        maxImagePixels: environment.IMAGE_MAX_PIXELS,
        allowLocalFiles: storage.allowLocalFiles,
      },
    });
    // The customer's own buckets (Lookout output locations, edge packages): the client imports read them with.
    const customerS3 = customerS3Client(environment);
    const training = createTrainingService({
      db,
      store: storage.store,
      images: ingestion.catalog,
      jobs: jobs.system,
      audit,
      log,
      config: { engineThreads: environment.TRAINING_THREADS, maxMaskBytes: environment.UPLOAD_MAX_BYTES },
      packageWriter: s3PackageWriter(customerS3),
    });
    const inference = createInferenceService({
      db,
      store: storage.store,
      images: ingestion.catalog,
      sources: storage.sources,
      jobs: jobs.system,
      audit,
      log,
      config: inferenceConfigFrom(environment, storage),
    });
    const apiKeys = new ApiKeyService(new KyselyApiKeyRepository(db), audit);
    const accessKeys = new AccessKeyPairService(new KyselyAccessKeyPairRepository(db), audit, secret);
    const access = accessSubgraph({ apiKeys, audit: new AuditLogReader(db), accessKeys });
    // The Lookout-compatible API reaches /v1/detect through the same gateway-trust path as a remote inference
    // service: a loopback listener that accepts only identities signed with the gateway secret.
    const inferenceLoopback = await listen(
      express().use('/v1', trustGateway(secret, log), inference.router),
      0,
      '127.0.0.1',
    );

    const operations = operationsSubgraph({ deadLetters: new DeadLetterService(jobs.system, audit) });
    const definitions = [
      access,
      operations,
      ingestion.subgraph,
      dataset.subgraph,
      training.subgraph,
      inference.subgraph,
    ];
    const servers = new Map<string, SubgraphServer>();
    for (const definition of definitions) {
      servers.set(definition.name, await createSubgraphServer(definition, { gatewaySecret: secret, log }));
    }
    const supergraphSdl = composeSupergraph(
      definitions.map((d) => ({ name: d.name, url: `in-process://${d.name}`, typeDefs: d.typeDefs })),
    );

    let firstAdminKey: string | null = null;
    let adminKeyFile: string | null = null;
    if (!(await apiKeys.hasAny())) {
      const created = await apiKeys.create({
        name: 'admin (created on first start)',
        role: Role.Admin,
        actor: SYSTEM_PRINCIPAL,
      });
      firstAdminKey = created.key;
      adminKeyFile = await writeAdminKey(dataDir, created.key);
    }

    const gateway = await createGatewayApp({
      supergraphSdl,
      dataSourceFor: (name) => {
        const server = servers.get(name);
        if (!server) throw new Error(`no in-process subgraph named ${name}`);
        return new InProcessDataSource<GatewayContext>(server, (context) => identityHeaders(context, secret));
      },
      apiKeys,
      log,
      rawRoutes: (app, execute) =>
        mountLookout(app, execute, {
          db,
          keys: accessKeys,
          audit,
          inference: inferenceHttpClient(inferenceLoopback.url, secret),
          log,
          maxBodyBytes: Math.max(environment.UPLOAD_MAX_BYTES, environment.MANIFEST_MAX_BYTES) * 2,
          // Evaluation output goes to the customer's bucket through the client that reads their manifests.
          outputs: s3EvaluationWriter(customerS3),
        }),
      healthChecks: [
        { name: 'database', check: async () => void (await db.selectFrom('api_keys').select('id').limit(1).execute()) },
        { name: 'objects', check: async () => void (await storage.store.head('healthz')) },
      ],
      routes: (app: Express, authenticate: RequestHandler) => {
        // The gateway authenticates, signs the identity exactly as for a remote service, and the
        // ingestion router verifies it: one trust path in both modes.
        const sign: RequestHandler = (req, res, next) => {
          const context = res.locals.gatewayContext;
          if (context) {
            req.headers[PRINCIPAL_HEADER] = signPrincipal(context.principal, secret, context.requestId);
            req.headers[REQUEST_ID_HEADER] = context.requestId;
          }
          next();
        };
        app.use('/v1', authenticate, sign, trustGateway(secret, log), ingestion.router, inference.router);
        // Prometheus scrapes without an API key, as it does a distributed service's own /metrics.
        app.get('/metrics', async (_req, res) => {
          res.setHeader('content-type', inference.metrics.contentType);
          res.end(await inference.metrics.text());
        });
      },
    });

    if (options.workers ?? true) {
      ingestion.registerWorkers();
      dataset.registerWorkers();
      training.registerWorkers();
      inference.registerWorkers();
    }
    await jobs.start();

    const http = await listen(gateway.app, options.port, options.host);
    const serverFile = path.join(dataDir, SERVER_FILE);
    await writeFile(serverFile, JSON.stringify({ url: http.url, pid: process.pid }), { mode: 0o600 }).catch(
      () => undefined,
    );
    log.info({ url: `${http.url}/graphql`, ...storage.description, queue: jobs.description }, 'Vigil is running');

    const runningJobs = jobs;
    return {
      url: http.url,
      port: http.port,
      firstAdminKey,
      adminKeyFile,
      app: gateway.app,
      stop: async () => {
        await http.close();
        await inferenceLoopback.close();
        await runningJobs.close();
        await inference.close();
        await gateway.stop();
        for (const server of servers.values()) await server.apollo.stop();
        await storage.database.close();
        await rm(serverFile, { force: true });
      },
    };
  } catch (error) {
    await jobs?.close().catch(() => undefined);
    await storage.database.close().catch(() => undefined);
    throw error;
  }
}

export { ADMIN_KEY_FILE, SERVER_FILE, SYSTEM_PRINCIPAL };
