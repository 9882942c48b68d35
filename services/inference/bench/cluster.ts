import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { openDatabase, sql } from '@vigil/db';

const run = promisify(execFile);
export const ROOT = path.resolve(__dirname, '../../../..');

export interface BenchProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: string[];
}

/**
 * Vigil in distributed mode for the benchmark: a fresh database on DATABASE_URL's server, BullMQ on REDIS_URL
 * under a unique prefix, objects on a local folder every process shares, each service its own dist/main.js.
 */
export class BenchCluster {
  readonly processes: BenchProcess[] = [];
  gateway: BenchProcess | null = null;
  adminKey = '';
  readonly prefix = `vigil-bench-${randomBytes(4).toString('hex')}`;
  readonly databaseName = `vigil_bench_${randomBytes(4).toString('hex')}`;

  constructor(
    readonly serverUrl: string,
    readonly redisUrl: string,
    readonly dataDir: string,
    readonly importRoots: readonly string[],
    readonly extraEnv: Record<string, string>,
  ) {}

  get databaseUrl(): string {
    const url = new URL(this.serverUrl);
    url.pathname = `/${this.databaseName}`;
    return url.toString();
  }

  get env(): Record<string, string> {
    return {
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.prefix,
      GATEWAY_SECRET: 'bench-secret-bench-secret-bench-secret-0123',
      VIGIL_DATA_DIR: this.dataDir,
      IMPORT_ALLOWED_ROOTS: this.importRoots.join(','),
      LOG_LEVEL: 'info',
      PORT: '0',
      HOST: '127.0.0.1',
      ...this.extraEnv,
    };
  }

  async start(): Promise<void> {
    const admin = await openDatabase({ kind: 'postgres', url: this.serverUrl, poolSize: 1 });
    try {
      await sql`create database ${sql.id(this.databaseName)}`.execute(admin.db);
    } finally {
      await admin.close();
    }
    await this.cli(['migrate']);
    const created = await this.cli(['keys', 'create', '--role', 'admin', '--json']);
    this.adminKey = (JSON.parse(created) as { secret: string }).secret;
    for (const name of ['ingestion', 'dataset', 'training']) await this.startService(name);
    // The inference API process runs no detections: worker processes are started (and stopped) separately.
    await this.startService('inference', { RUN_WORKERS: 'false' });
    const urls: Record<string, string> = {};
    for (const name of ['ingestion', 'dataset', 'training', 'inference']) {
      urls[`${name.toUpperCase()}_URL`] = `${this.processesOf(name)[0]?.url ?? ''}/graphql`;
    }
    this.gateway = await startProcess('gateway', 'gateway/dist/main.js', { ...this.env, ...urls }, 'gateway listening');
  }

  processesOf(name: string): BenchProcess[] {
    return this.processes.filter((p) => p.name === name || p.name.startsWith(`${name}#`));
  }

  async startService(name: string, extra: Record<string, string> = {}): Promise<BenchProcess> {
    const index = this.processesOf(name).length;
    const label = index === 0 ? name : `${name}#${index + 1}`;
    const started = await startProcess(
      label,
      `services/${name}/dist/main.js`,
      { ...this.env, ...extra },
      `${name} service listening`,
    );
    this.processes.push(started);
    return started;
  }

  async stopProcess(process: BenchProcess): Promise<void> {
    await stopChild(process.child);
    const index = this.processes.indexOf(process);
    if (index >= 0) this.processes.splice(index, 1);
  }

  async gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    if (!this.gateway) throw new Error('the gateway is not running');
    const response = await fetch(`${this.gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.adminKey}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: T; errors?: unknown };
    if (body.errors || !body.data) throw new Error(`GraphQL failed: ${JSON.stringify(body.errors)}`);
    return body.data;
  }

  async rest(pathAndQuery: string): Promise<Buffer> {
    if (!this.gateway) throw new Error('the gateway is not running');
    const response = await fetch(`${this.gateway.url}${pathAndQuery}`, {
      headers: { authorization: `Bearer ${this.adminKey}` },
    });
    if (!response.ok) throw new Error(`GET ${pathAndQuery}: HTTP ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  }

  async stop(): Promise<void> {
    const all = [...this.processes, ...(this.gateway ? [this.gateway] : [])];
    await Promise.all(all.map((p) => stopChild(p.child)));
    this.processes.length = 0;
    this.gateway = null;
    const redis = new Redis(this.redisUrl, { maxRetriesPerRequest: 1 });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 1000);
        if (keys.length > 0) await redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    const admin = await openDatabase({ kind: 'postgres', url: this.serverUrl, poolSize: 1 });
    try {
      await sql`drop database if exists ${sql.id(this.databaseName)} with (force)`.execute(admin.db);
    } finally {
      await admin.close();
    }
  }

  private async cli(args: readonly string[]): Promise<string> {
    const { stdout } = await run(process.execPath, [path.join(ROOT, 'cli/bin/vigil.js'), ...args], {
      env: childEnvironment(this.env),
    });
    return stdout;
  }
}

function childEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['NODE_OPTIONS'];
  return env;
}

function startProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  readyMessage: string,
  timeoutMs = 60_000,
): Promise<BenchProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, script)], {
    env: childEnvironment(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const remember = (line: string) => {
    output.push(line);
    if (output.length > 200) output.shift();
  };
  if (child.stderr) createInterface({ input: child.stderr }).on('line', remember);
  return new Promise<BenchProcess>((resolve, reject) => {
    let ready = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${timeoutMs / 1000} s:\n${output.join('\n')}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output.join('\n')}`));
    });
    if (!child.stdout) return;
    createInterface({ input: child.stdout }).on('line', (line) => {
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
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
