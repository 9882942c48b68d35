import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { openDatabase, sql } from '@vigil/db';
import { startS3rver, S3RVER_CREDENTIALS, type RunningS3rver } from '@vigil/storage/testing';
import { testDatabaseUrl, testRedisUrl } from './environment';
import type { GraphQLResult } from './platform';

/**
 * Vigil in distributed mode for cross-service tests: a fresh Postgres database, an S3 server on loopback, BullMQ
 * on Redis under a unique prefix, each service as its own `dist/main.js` process and the gateway in front, driven
 * over HTTP as a client would. Needs `npm run build` first and VIGIL_TEST_DATABASE_URL / VIGIL_TEST_REDIS_URL.
 */

const root = path.resolve(__dirname, '../..');
const run = promisify(execFile);

export type ServiceName = 'ingestion' | 'dataset' | 'training' | 'inference';

const SCRIPTS: Record<ServiceName | 'gateway', string> = {
  ingestion: 'services/ingestion/dist/main.js',
  dataset: 'services/dataset/dist/main.js',
  training: 'services/training/dist/main.js',
  inference: 'services/inference/dist/main.js',
  gateway: 'gateway/dist/main.js',
};

export interface ClusterProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last 300 lines it printed (pino JSON), for failure messages. */
  readonly output: string[];
  /** Its base URL (no /graphql). */
  readonly url: string;
}

export interface ClusterOptions {
  /** Services to start, in this order (default: all four). */
  readonly services?: readonly ServiceName[];
  /** Extra variables for every service process (not the gateway). */
  readonly serviceEnv?: Record<string, string>;
  /** Extra variables per service. */
  readonly envFor?: Partial<Record<ServiceName, Record<string, string>>>;
  readonly gatewayEnv?: Record<string, string>;
  /** Redis for the queues (default VIGIL_TEST_REDIS_URL), e.g. a private redis-server a test restarts. */
  readonly redisUrl?: string;
  /** Folders the services may import from (IMPORT_ALLOWED_ROOTS). */
  readonly importRoots?: readonly string[];
  readonly logLevel?: string;
}

export function clusterAvailable(): boolean {
  return Boolean(testDatabaseUrl && testRedisUrl);
}

export class Cluster {
  readonly processes: ClusterProcess[] = [];
  private gatewayProcess: ClusterProcess | null = null;

  private constructor(
    readonly secret: string,
    readonly databaseName: string,
    readonly queuePrefix: string,
    readonly redisUrl: string,
    readonly tmp: string,
    readonly s3: RunningS3rver,
    readonly bucket: string,
    private readonly options: ClusterOptions,
    private adminKeyValue = '',
  ) {}

  /** Creates the database, the bucket and the first admin key, then starts the services and the gateway. */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    if (!testDatabaseUrl || !testRedisUrl)
      throw new Error('a cluster needs VIGIL_TEST_DATABASE_URL and VIGIL_TEST_REDIS_URL');
    const suffix = randomBytes(5).toString('hex');
    const databaseName = `vigil_cluster_${suffix}`;
    const admin = await openDatabase({ kind: 'postgres', url: testDatabaseUrl, poolSize: 1 });
    try {
      await sql`create database ${sql.id(databaseName)}`.execute(admin.db);
    } finally {
      await admin.close();
    }
    let tmp = '';
    let s3: RunningS3rver | null = null;
    try {
      tmp = await mkdtemp(path.join(os.tmpdir(), 'vigil-cluster-'));
      s3 = await startS3rver();
      const bucket = `vigil-${suffix}`;
      await s3.createBucket(bucket);
      const cluster = new Cluster(
        randomBytes(32).toString('base64url'),
        databaseName,
        `vigil-cluster-${suffix}`,
        options.redisUrl ?? testRedisUrl,
        tmp,
        s3,
        bucket,
        options,
      );
      try {
        await cluster.bootstrap();
      } catch (error) {
        await cluster.stop();
        throw error;
      }
      return cluster;
    } catch (error) {
      if (!s3) await dropDatabase(databaseName);
      throw error;
    }
  }

  get adminKey(): string {
    return this.adminKeyValue;
  }

  get gateway(): ClusterProcess {
    if (!this.gatewayProcess) throw new Error('the gateway is not running');
    return this.gatewayProcess;
  }

  get url(): string {
    return this.gateway.url;
  }

  get databaseUrl(): string {
    const url = new URL(testDatabaseUrl ?? '');
    url.pathname = `/${this.databaseName}`;
    return url.toString();
  }

  /** Variables every process shares. */
  get sharedEnv(): Record<string, string> {
    return {
      DATABASE_URL: this.databaseUrl,
      GATEWAY_SECRET: this.secret,
      LOG_LEVEL: this.options.logLevel ?? 'info',
      VIGIL_DATA_DIR: path.join(this.tmp, 'data'),
    };
  }

  /** Variables of a service process. */
  serviceEnv(name: ServiceName): Record<string, string> {
    return {
      ...this.sharedEnv,
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.queuePrefix,
      S3_BUCKET: this.bucket,
      S3_ENDPOINT: this.s3.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      IMPORT_ALLOWED_ROOTS: (this.options.importRoots ?? []).join(',') || this.tmp,
      PORT: '0',
      HOST: '127.0.0.1',
      ...this.options.serviceEnv,
      ...this.options.envFor?.[name],
    };
  }

  /** The running processes of one service (several for scaled-out inference workers). */
  processesOf(name: ServiceName): ClusterProcess[] {
    return this.processes.filter((p) => p.name === name || p.name.startsWith(`${name}#`));
  }

  /** Starts another process of a service (e.g. a second inference worker), with extra variables. */
  async startService(name: ServiceName, extra: Record<string, string> = {}): Promise<ClusterProcess> {
    const index = this.processesOf(name).length;
    const label = index === 0 ? name : `${name}#${index + 1}`;
    const started = await startProcess(
      label,
      SCRIPTS[name],
      { ...this.serviceEnv(name), ...extra },
      `${name} service listening`,
    );
    this.processes.push(started);
    return started;
  }

  /** SIGTERM (SIGKILL after 5 s) and forget the process. */
  async stopProcess(process: ClusterProcess): Promise<void> {
    await stopChild(process.child);
    this.forget(process);
  }

  /** Kills a process at once (a crash), and forgets it. */
  async kill(process: ClusterProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (process.child.exitCode === null && process.child.signalCode === null) {
      const exited = new Promise((resolve) => process.child.once('exit', resolve));
      process.child.kill(signal);
      await exited;
    }
    this.forget(process);
  }

  async graphql<T>(
    query: string,
    variables: Record<string, unknown> = {},
    key: string | null = this.adminKey,
  ): Promise<GraphQLResult<T>> {
    const response = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: T; errors?: GraphQLResult<T>['errors'] };
    return { status: response.status, data: body.data ?? null, errors: body.errors ?? null };
  }

  /** GraphQL that must succeed: the data, or an error with the response and the recent logs. */
  async gql<T>(query: string, variables: Record<string, unknown> = {}, key: string | null = this.adminKey): Promise<T> {
    const result = await this.graphql<T>(query, variables, key);
    if (result.errors || !result.data) {
      throw new Error(`GraphQL failed (${result.status}): ${JSON.stringify(result.errors)}\n${this.recentLogs(20)}`);
    }
    return result.data;
  }

  /** The last lines of every process, for failure messages. */
  recentLogs(lines = 20): string {
    return [...this.processes, ...(this.gatewayProcess ? [this.gatewayProcess] : [])]
      .map((p) => `--- ${p.name}\n${p.output.slice(-lines).join('\n')}`)
      .join('\n');
  }

  /** A CLI command against this cluster's database (e.g. `keys create`), its stdout. */
  async cli(args: readonly string[], extra: Record<string, string> = {}): Promise<string> {
    const { stdout } = await run(process.execPath, [path.join(root, 'cli/bin/vigil.js'), ...args], {
      env: childEnvironment({ ...this.sharedEnv, ...extra }),
    });
    return stdout;
  }

  /** Stops every process, empties the queue keys, drops the database and removes the files. */
  async stop(): Promise<void> {
    const all = [...this.processes, ...(this.gatewayProcess ? [this.gatewayProcess] : [])];
    await Promise.all(all.map((p) => stopChild(p.child)));
    this.processes.length = 0;
    this.gatewayProcess = null;
    await this.s3.stop().catch(() => undefined);
    await deleteQueueKeys(this.redisUrl, this.queuePrefix).catch(() => undefined);
    await dropDatabase(this.databaseName);
    if (this.tmp) await rm(this.tmp, { recursive: true, force: true });
  }

  private async bootstrap(): Promise<void> {
    // The operator's steps: migrate, then the first key straight against the database.
    await this.cli(['migrate']);
    const created = await this.cli(['keys', 'create', '--role', 'admin', '--json']);
    this.adminKeyValue = (JSON.parse(created) as { secret: string }).secret;

    const names = this.options.services ?? (['ingestion', 'dataset', 'training', 'inference'] as const);
    const started = await Promise.allSettled(names.map((name) => this.startService(name)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;

    const urls: Record<string, string> = {};
    for (const name of names) urls[`${name.toUpperCase()}_URL`] = `${this.processesOf(name)[0]!.url}/graphql`;
    this.gatewayProcess = await startProcess(
      'gateway',
      SCRIPTS.gateway,
      {
        ...this.sharedEnv,
        REDIS_URL: this.redisUrl,
        QUEUE_PREFIX: this.queuePrefix,
        PORT: '0',
        HOST: '127.0.0.1',
        SUBGRAPH_WAIT_SECONDS: '20',
        ...urls,
        ...this.options.gatewayEnv,
      },
      'gateway listening',
    );
  }

  private forget(process: ClusterProcess): void {
    const index = this.processes.indexOf(process);
    if (index >= 0) this.processes.splice(index, 1);
    if (this.gatewayProcess === process) this.gatewayProcess = null;
  }
}

/** The environment of a child: ours without jest's NODE_OPTIONS, plus `extra`. */
export function childEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['NODE_OPTIONS'];
  return env;
}

/** Starts `node <script>` and resolves once it logs `readyMessage` (pino JSON) with the URL it logged. */
export function startProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  readyMessage: string,
  timeoutMs = 30_000,
): Promise<ClusterProcess> {
  const child = spawn(process.execPath, [path.join(root, script)], {
    env: childEnvironment(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const remember = (line: string) => {
    output.push(line);
    if (output.length > 300) output.shift();
  };
  createInterface({ input: child.stderr! }).on('line', remember);
  return new Promise<ClusterProcess>((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs / 1000} s:\n${output.join('\n')}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output.join('\n')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      if (ready) return;
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === readyMessage && entry.url) {
          ready = true;
          clearTimeout(timer);
          resolve({ name, child, output, url: entry.url.replace(/\/graphql$/, '') });
        }
      } catch {
        // Not a log line.
      }
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function deleteQueueKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function dropDatabase(name: string): Promise<void> {
  const admin = await openDatabase({ kind: 'postgres', url: testDatabaseUrl ?? '', poolSize: 1 });
  try {
    await sql`drop database if exists ${sql.id(name)} with (force)`.execute(admin.db);
  } finally {
    await admin.close();
  }
}
