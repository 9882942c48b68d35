import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { openDatabase, type Database, type Kysely } from '@vigil/db';
import { ErrorCode, VigilError, describeError } from '@vigil/contracts';
import {
  KyselyAuditTrail,
  createSubgraphServer,
  customerS3Client,
  listen,
  type Logger,
  type SubgraphServer,
} from '@vigil/service-kit';
import { ApiKeyService, KyselyApiKeyRepository } from '../auth/api-keys';
import { AccessKeyPairService, KyselyAccessKeyPairRepository } from '../auth/access-key-pairs';
import { inferenceHttpClient, mountLookout, noInferenceService, s3EvaluationWriter } from '../lookout';
import { accessSubgraph } from '../access/subgraph';
import { DeadLetterService, OPERATIONS_SUBGRAPH, openOperationsJobs, operationsSubgraph } from '../operations';
import { AuditLogReader } from '../access/audit-query';
import { composeSupergraph, InProcessDataSource, SignedRemoteDataSource } from '../federation';
import { createGatewayApp, type HealthCheck } from '../http/app';
import { identityHeaders, type GatewayContext } from '../context';
import { configuredSubgraphUrls, type GatewayEnvironment } from '../environment';
import { fetchSubgraphSchemas } from './fetch-sdl';
import { imagesProxy } from './images-proxy';
import { ACCESS_SUBGRAPH, ACCESS_SUBGRAPH_URL, supergraphSubgraphs } from './subgraphs';

export interface RunningGateway {
  readonly url: string;
  readonly port: number;
  /** Remote subgraphs by name, with the URLs requests go to. */
  readonly subgraphs: ReadonlyMap<string, string>;
  stop(): Promise<void>;
}

interface Supergraph {
  readonly sdl: string;
  /** Remote subgraphs (every one but access) and where to reach them. */
  readonly remotes: Map<string, string>;
  readonly source: string;
}

/** The supergraph: read from SUPERGRAPH_PATH, or composed from the running subgraphs' own schemas. */
async function loadSupergraph(
  environment: GatewayEnvironment,
  access: SubgraphServer,
  log: Logger,
  operations?: SubgraphServer,
): Promise<Supergraph> {
  const configured = configuredSubgraphUrls(environment);
  if (environment.SUPERGRAPH_PATH) {
    const file = path.resolve(environment.SUPERGRAPH_PATH);
    const sdl = await readFile(file, 'utf8').catch((error: unknown) => {
      throw new VigilError(
        ErrorCode.BadUserInput,
        `SUPERGRAPH_PATH: cannot read ${file}: ${describeError(error).message}`,
      );
    });
    const named = supergraphSubgraphs(sdl);
    if (!named.has(ACCESS_SUBGRAPH)) {
      throw new VigilError(ErrorCode.BadUserInput, `SUPERGRAPH_PATH: ${file} has no '${ACCESS_SUBGRAPH}' subgraph`);
    }
    const unknown = [...configured.keys()].filter((name) => !named.has(name));
    if (unknown.length > 0) {
      throw new VigilError(ErrorCode.BadUserInput, `${file} has no subgraph named ${unknown.join(', ')}`);
    }
    named.delete(ACCESS_SUBGRAPH);
    named.delete(OPERATIONS_SUBGRAPH);
    // The file's URLs are build-time defaults; the environment says where the services run here.
    const remotes = new Map([...named].map(([name, url]) => [name, configured.get(name) ?? url]));
    return { sdl, remotes, source: file };
  }
  const schemas = await fetchSubgraphSchemas(
    [...configured].map(([name, url]) => ({ name, url })),
    { secret: environment.GATEWAY_SECRET, waitMs: environment.SUBGRAPH_WAIT_SECONDS * 1000, log },
  );
  const sdl = composeSupergraph([
    { name: ACCESS_SUBGRAPH, url: ACCESS_SUBGRAPH_URL, typeDefs: access.typeDefs },
    ...(operations
      ? [{ name: OPERATIONS_SUBGRAPH, url: `in-process://${OPERATIONS_SUBGRAPH}`, typeDefs: operations.typeDefs }]
      : []),
    ...[...configured].map(([name, url]) => {
      const typeDefs = schemas.get(name);
      if (!typeDefs) throw new VigilError(ErrorCode.Internal, `no schema fetched for ${name}`);
      return { name, url, typeDefs };
    }),
  ]);
  return { sdl, remotes: configured, source: 'composed from the running subgraphs' };
}

async function assertSchema(db: Kysely<Database>): Promise<void> {
  try {
    await db.selectFrom('api_keys').select('id').limit(1).execute();
  } catch (error) {
    throw new VigilError(
      ErrorCode.Unavailable,
      `the database at DATABASE_URL has no Vigil schema (${describeError(error).message}): run \`vigil migrate\` first`,
    );
  }
}

function healthUrl(subgraphUrl: string): string {
  const url = new URL(subgraphUrl);
  url.pathname = `${url.pathname.replace(/\/graphql\/?$/, '').replace(/\/+$/, '')}/healthz`;
  url.search = '';
  return url.toString();
}

function restBase(subgraphUrl: string): string {
  const url = new URL(subgraphUrl);
  url.pathname = url.pathname.replace(/\/graphql\/?$/, '') || '/';
  url.search = '';
  return url.toString();
}

/**
 * The gateway on its own: authenticates API keys against the shared database, serves the access subgraph
 * in-process, sends every other subgraph's share of a query over HTTP with the caller's identity signed,
 * and streams `/v1/images*` to the ingestion service.
 */
export async function startDistributedGateway(environment: GatewayEnvironment, log: Logger): Promise<RunningGateway> {
  const secret = environment.GATEWAY_SECRET;
  const database = await openDatabase({
    kind: 'postgres',
    url: environment.DATABASE_URL,
    poolSize: environment.DATABASE_POOL_SIZE,
  });
  let closeOnFailure: () => Promise<void> = async () => undefined;
  try {
    const db = database.db;
    await assertSchema(db);
    const audit = new KyselyAuditTrail(db);
    const apiKeys = new ApiKeyService(new KyselyApiKeyRepository(db), audit);
    const accessKeys = new AccessKeyPairService(new KyselyAccessKeyPairRepository(db), audit, secret);
    const access = await createSubgraphServer(accessSubgraph({ apiKeys, audit: new AuditLogReader(db), accessKeys }), {
      gatewaySecret: secret,
      log,
    });
    // Dead letters: this process runs no jobs, it only puts replayed ones back on their BullMQ queue.
    const operationsJobs = openOperationsJobs(environment, db, log);
    closeOnFailure = () => operationsJobs.close();
    const operations = await createSubgraphServer(
      operationsSubgraph({ deadLetters: new DeadLetterService(operationsJobs.runner, audit) }),
      { gatewaySecret: secret, log },
    );
    const supergraph = await loadSupergraph(environment, access, log, operations);

    const ingestionUrl = supergraph.remotes.get('ingestion');
    const imagesTarget = environment.INGESTION_HTTP_URL ?? (ingestionUrl ? restBase(ingestionUrl) : undefined);
    const inferenceUrl = supergraph.remotes.get('inference');
    const inferenceTarget = environment.INFERENCE_HTTP_URL ?? (inferenceUrl ? restBase(inferenceUrl) : undefined);
    const healthChecks: HealthCheck[] = [
      { name: 'database', check: async () => void (await db.selectFrom('api_keys').select('id').limit(1).execute()) },
      ...[...supergraph.remotes].map(([name, url]) => ({
        name,
        check: async () => {
          const response = await fetch(healthUrl(url), { signal: AbortSignal.timeout(2000) });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
        },
      })),
    ];

    const gateway = await createGatewayApp({
      supergraphSdl: supergraph.sdl,
      dataSourceFor: (name, url) => {
        if (name === ACCESS_SUBGRAPH) {
          return new InProcessDataSource<GatewayContext>(access, (context) => identityHeaders(context, secret));
        }
        if (name === OPERATIONS_SUBGRAPH) {
          return new InProcessDataSource<GatewayContext>(operations, (context) => identityHeaders(context, secret));
        }
        return new SignedRemoteDataSource(supergraph.remotes.get(name) ?? url, secret);
      },
      apiKeys,
      log,
      healthChecks,
      maxRequestBytes: environment.REQUEST_MAX_BYTES,
      rawRoutes: (app, execute) => {
        mountLookout(app, execute, {
          db,
          keys: accessKeys,
          audit,
          inference: inferenceTarget ? inferenceHttpClient(inferenceTarget, secret) : noInferenceService(),
          log,
          maxBodyBytes: Math.max(environment.UPLOAD_MAX_BYTES, environment.MANIFEST_MAX_BYTES) * 2,
          // Evaluation output goes to the customer's bucket, with the same client settings as manifest reads.
          outputs: s3EvaluationWriter(customerS3Client(environment)),
        });
      },
      routes: (app, authenticate) => {
        if (imagesTarget) app.use('/v1/images', authenticate, imagesProxy({ target: imagesTarget, secret, log }));
        // The same streaming proxy: the inference service's upload-and-detect route and inspection pictures.
        if (inferenceTarget) {
          const toInference = imagesProxy({ target: inferenceTarget, secret, log });
          app.use('/v1/detect', authenticate, toInference);
          app.use('/v1/inspections', authenticate, toInference);
        }
      },
    });

    if (!(await apiKeys.hasAny())) {
      // Distributed mode never prints keys: whoever runs the database creates the first one.
      log.warn(
        'no API keys exist yet: create the first with `DATABASE_URL=... vigil keys create --role admin` ' +
          '(it connects to the database directly when no Vigil server is reachable)',
      );
    }

    const http = await listen(gateway.app, environment.PORT, environment.HOST);
    log.info(
      {
        url: `${http.url}/graphql`,
        supergraph: supergraph.source,
        subgraphs: Object.fromEntries(supergraph.remotes),
        images: imagesTarget ?? 'disabled (no ingestion subgraph)',
        inference: inferenceTarget ?? 'disabled (no inference subgraph)',
      },
      'gateway listening',
    );
    let stopped: Promise<void> | null = null;
    return {
      url: http.url,
      port: http.port,
      subgraphs: supergraph.remotes,
      stop: () =>
        (stopped ??= (async () => {
          await http.close();
          await gateway.stop();
          await access.apollo.stop();
          await operations.apollo.stop();
          await operationsJobs.close();
          await database.close();
        })()),
    };
  } catch (error) {
    await closeOnFailure().catch(() => undefined);
    await database.close().catch(() => undefined);
    throw error;
  }
}
