import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, databaseUrlFor, deleteQueueKeys, dropDatabase, runCli } from './infrastructure';
import { REPOSITORY_ROOT } from './root';
import { killChild, startProcess, stopChild, type ClusterProcess } from './process';

export type ServiceName = 'ingestion' | 'dataset' | 'training' | 'inference';

export const SERVICE_NAMES: readonly ServiceName[] = ['ingestion', 'dataset', 'training', 'inference'];

/** Where the services keep objects: an S3 bucket, or VIGIL_DATA_DIR, a local folder every process shares. */
export type ClusterObjectStore =
  | { readonly kind: 'local' }
  | {
      readonly kind: 's3';
      readonly endpoint: string;
      readonly bucket: string;
      readonly accessKeyId: string;
      readonly secretAccessKey: string;
      readonly region?: string;
    };

export interface ClusterOptions {
  /** Postgres server (any database on it): the cluster creates and drops its own database there. */
  readonly databaseServerUrl: string;
  /** Redis for the queues; the cluster uses a unique prefix and deletes only its keys. */
  readonly redisUrl: string;
  readonly objectStore: ClusterObjectStore;
  /** Names the database (`vigil_<label>_<random>`), queue prefix and temporary folder (default `cluster`). */
  readonly label?: string;
  /** Services start() starts, in this order (default: all four). */
  readonly services?: readonly ServiceName[];
  /** Extra variables for every service process (not the gateway). */
  readonly serviceEnv?: Record<string, string>;
  /** Extra variables per service, for every process of it. */
  readonly envFor?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Extra variables for the first process of a service only, the one start() starts (e.g. an API-only one). */
  readonly firstProcessEnvFor?: Partial<Record<ServiceName, Record<string, string>>>;
  readonly gatewayEnv?: Record<string, string>;
  /** Folders the services may import from (IMPORT_ALLOWED_ROOTS; default: the cluster's temporary folder). */
  readonly importRoots?: readonly string[];
  readonly logLevel?: string;
  /** How long a process may take to log that it listens (default 30 s). */
  readonly startTimeoutMs?: number;
  /** How long a stopped process may drain before SIGKILL (default 5 s). */
  readonly stopGraceMs?: number;
  /** The repository whose `dist/main.js` files run (default: this one). */
  readonly root?: string;
}

export interface GraphQLResult<T> {
  readonly status: number;
  readonly data: T | null;
  readonly errors: { message: string; extensions?: { code?: string; details?: unknown } }[] | null;
}

const SCRIPTS: Record<ServiceName | 'gateway', string> = {
  ingestion: 'services/ingestion/dist/main.js',
  dataset: 'services/dataset/dist/main.js',
  training: 'services/training/dist/main.js',
  inference: 'services/inference/dist/main.js',
  gateway: 'gateway/dist/main.js',
};

/**
 * Vigil in distributed mode: a fresh Postgres database, BullMQ under a unique prefix, each service as its own
 * `dist/main.js` process and the gateway in front, driven over HTTP as a client would. Needs `npm run build`.
 */
export class Cluster {
  readonly processes: ClusterProcess[] = [];
  readonly secret = randomBytes(32).toString('base64url');
  readonly suffix = randomBytes(5).toString('hex');
  readonly databaseName: string;
  readonly queuePrefix: string;
  readonly root: string;
  private gatewayProcess: ClusterProcess | null = null;
  private adminKeyValue = '';
  private tmpDir = '';
  private databaseCreated = false;

  constructor(readonly options: ClusterOptions) {
    const label = options.label ?? 'cluster';
    this.databaseName = `vigil_${label.replace(/\W/g, '_')}_${this.suffix}`;
    this.queuePrefix = `vigil-${label}-${this.suffix}`;
    this.root = options.root ?? REPOSITORY_ROOT;
  }

  get redisUrl(): string {
    return this.options.redisUrl;
  }

  /** A temporary folder of this cluster (removed by stop()); VIGIL_DATA_DIR is `<tmp>/data`. */
  get tmp(): string {
    if (!this.tmpDir) throw new Error('the cluster is not started');
    return this.tmpDir;
  }

  get dataDir(): string {
    return path.join(this.tmp, 'data');
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
    return databaseUrlFor(this.options.databaseServerUrl, this.databaseName);
  }

  /** Variables every process shares (the CLI too). */
  get sharedEnv(): Record<string, string> {
    return {
      DATABASE_URL: this.databaseUrl,
      GATEWAY_SECRET: this.secret,
      LOG_LEVEL: this.options.logLevel ?? 'info',
      VIGIL_DATA_DIR: this.dataDir,
    };
  }

  /** Variables of a service process. */
  serviceEnv(name: ServiceName): Record<string, string> {
    const store = this.options.objectStore;
    return {
      ...this.sharedEnv,
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.queuePrefix,
      ...(store.kind === 's3'
        ? {
            S3_BUCKET: store.bucket,
            S3_ENDPOINT: store.endpoint,
            S3_FORCE_PATH_STYLE: 'true',
            AWS_ACCESS_KEY_ID: store.accessKeyId,
            AWS_SECRET_ACCESS_KEY: store.secretAccessKey,
            AWS_REGION: store.region ?? 'us-east-1',
          }
        : {}),
      IMPORT_ALLOWED_ROOTS: (this.options.importRoots ?? []).join(',') || this.tmp,
      PORT: '0',
      HOST: '127.0.0.1',
      ...this.options.serviceEnv,
      ...this.options.envFor?.[name],
    };
  }

  /**
   * Creates the database and the first admin key (the operator's steps: `vigil migrate`, then `keys create`
   * straight against the database), then starts the services and the gateway. On failure it cleans up.
   */
  async start(): Promise<void> {
    try {
      this.tmpDir = await mkdtemp(path.join(os.tmpdir(), `vigil-${this.options.label ?? 'cluster'}-`));
      await createDatabase(this.options.databaseServerUrl, this.databaseName);
      this.databaseCreated = true;
      await this.cli(['migrate']);
      const created = await this.cli(['keys', 'create', '--role', 'admin', '--json']);
      this.adminKeyValue = (JSON.parse(created) as { secret: string }).secret;

      const names = this.options.services ?? SERVICE_NAMES;
      const started = await Promise.allSettled(
        names.map((name) => this.startService(name, this.options.firstProcessEnvFor?.[name])),
      );
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
        { timeoutMs: this.options.startTimeoutMs, root: this.root },
      );
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    }
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
      { timeoutMs: this.options.startTimeoutMs, root: this.root },
    );
    this.processes.push(started);
    return started;
  }

  /** SIGTERM (SIGKILL after the grace period) and forget the process. */
  async stopProcess(process: ClusterProcess): Promise<void> {
    await stopChild(process.child, this.options.stopGraceMs);
    this.forget(process);
  }

  /** Kills a process at once (a crash), and forgets it. */
  async kill(process: ClusterProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await killChild(process.child, signal);
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

  /** A GET through the gateway with the admin key (e.g. `/v1/images/<id>/content`), its body. */
  async rest(pathAndQuery: string): Promise<Buffer> {
    const response = await fetch(`${this.url}${pathAndQuery}`, {
      headers: { authorization: `Bearer ${this.adminKey}` },
    });
    if (!response.ok) throw new Error(`GET ${pathAndQuery}: HTTP ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  }

  /** The last lines of every process, for failure messages. */
  recentLogs(lines = 20): string {
    return [...this.processes, ...(this.gatewayProcess ? [this.gatewayProcess] : [])]
      .map((p) => `--- ${p.name}\n${p.output.slice(-lines).join('\n')}`)
      .join('\n');
  }

  /** A CLI command against this cluster's database (e.g. `keys create`), its stdout. */
  async cli(args: readonly string[], extra: Record<string, string> = {}): Promise<string> {
    return runCli(args, { ...this.sharedEnv, ...extra }, this.root);
  }

  /** Stops every process, empties the queue keys, drops the database and removes the files. */
  async stop(): Promise<void> {
    const all = [...this.processes, ...(this.gatewayProcess ? [this.gatewayProcess] : [])];
    await Promise.all(all.map((p) => stopChild(p.child, this.options.stopGraceMs)));
    this.processes.length = 0;
    this.gatewayProcess = null;
    await deleteQueueKeys(this.redisUrl, this.queuePrefix).catch(() => undefined);
    if (this.databaseCreated) {
      await dropDatabase(this.options.databaseServerUrl, this.databaseName);
      this.databaseCreated = false;
    }
    if (this.tmpDir) await rm(this.tmpDir, { recursive: true, force: true });
  }

  private forget(process: ClusterProcess): void {
    const index = this.processes.indexOf(process);
    if (index >= 0) this.processes.splice(index, 1);
    if (this.gatewayProcess === process) this.gatewayProcess = null;
  }
}
