import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import Redis from 'ioredis';
import { openDatabase, sql } from '@vigil/db';
import { startS3rver, S3RVER_CREDENTIALS, type RunningS3rver } from '@vigil/storage/testing';
import { syntheticImage } from '@vigil/images/src/testing';
import { skipMessage, testDatabaseUrl, testRedisUrl } from './support/environment';

/**
 * The distributed mode end to end: ingestion, dataset and the gateway as three processes (their built
 * dist/main.js) over a fresh Postgres database, Redis (BullMQ under a unique prefix) and an S3 server,
 * driven through the gateway only, as a client would.
 */
const root = path.resolve(__dirname, '..');
const run = promisify(execFile);

if (!testDatabaseUrl || !testRedisUrl) {
  console.warn(skipMessage('the distributed-mode test', 'set VIGIL_TEST_DATABASE_URL and VIGIL_TEST_REDIS_URL'));
}

interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  readonly output: string[];
  readonly url: string;
}

const SECRET = randomBytes(32).toString('base64url');
const suffix = randomBytes(5).toString('hex');
const databaseName = `vigil_dist_${suffix}`;
const queuePrefix = `vigil-dist-${suffix}`;

function databaseUrl(name: string): string {
  const url = new URL(testDatabaseUrl ?? '');
  url.pathname = `/${name}`;
  return url.toString();
}

/** The environment of a child: ours without jest's NODE_OPTIONS, plus `extra`. */
function childEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env['NODE_OPTIONS'];
  return env;
}

/** Starts `node <script>` and resolves once it logs `readyMessage` (pino JSON), with the URL it logged. */
function startService(name: string, script: string, env: Record<string, string>, readyMessage: string) {
  const child = spawn(process.execPath, [path.join(root, script)], {
    env: childEnvironment(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const remember = (line: string) => {
    output.push(line);
    if (output.length > 200) output.shift();
  };
  createInterface({ input: child.stderr! }).on('line', remember);
  return new Promise<Service>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within 30 s:\n${output.join('\n')}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code}:\n${output.join('\n')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === readyMessage && entry.url) {
          clearTimeout(timer);
          resolve({ name, child, output, url: entry.url.replace(/\/graphql$/, '') });
        }
      } catch {
        // Not a log line.
      }
    });
  });
}

async function stopService({ child }: Service): Promise<void> {
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

(testDatabaseUrl && testRedisUrl ? describe : describe.skip)('distributed mode: three processes', () => {
  let s3: RunningS3rver | undefined;
  let tmp = '';
  let imagesDir = '';
  let adminKey = '';
  let databaseCreated = false;
  const services: Service[] = [];
  let gateway: Service;
  let dataset: Service;

  const gql = async <T>(query: string, variables: Record<string, unknown> = {}, key: string | null = adminKey) => {
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: T; errors?: unknown[] };
    if (body.errors || !body.data) throw new Error(`GraphQL failed (${response.status}): ${JSON.stringify(body)}`);
    return body.data;
  };

  beforeAll(async () => {
    const admin = await openDatabase({ kind: 'postgres', url: testDatabaseUrl ?? '', poolSize: 1 });
    try {
      await sql`create database ${sql.id(databaseName)}`.execute(admin.db);
      databaseCreated = true;
    } finally {
      await admin.close();
    }

    tmp = await mkdtemp(path.join(os.tmpdir(), 'vigil-dist-'));
    imagesDir = path.join(tmp, 'lookout');
    const layout: [string, number, boolean][] = [
      ['Train/Normal', 3, false],
      ['Train/Anomaly', 2, true],
      ['Test/Normal', 2, false],
      ['Test/Anomaly', 1, true],
    ];
    let seed = 100;
    for (const [folder, count, defect] of layout) {
      await mkdir(path.join(imagesDir, folder), { recursive: true });
      for (let i = 0; i < count; i++) {
        const bytes = await syntheticImage({ format: 'png', seed: seed++, defect, width: 48, height: 32 });
        await writeFile(path.join(imagesDir, folder, `${i}.png`), bytes);
      }
    }

    s3 = await startS3rver();
    await s3.createBucket('vigil-dist');

    const shared = {
      DATABASE_URL: databaseUrl(databaseName),
      GATEWAY_SECRET: SECRET,
      LOG_LEVEL: 'info',
      VIGIL_DATA_DIR: path.join(tmp, 'data'),
    };
    const serviceEnv = {
      ...shared,
      REDIS_URL: testRedisUrl ?? '',
      QUEUE_PREFIX: queuePrefix,
      S3_BUCKET: 'vigil-dist',
      S3_ENDPOINT: s3.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      IMPORT_ALLOWED_ROOTS: imagesDir,
      PORT: '0',
      HOST: '127.0.0.1',
    };

    // The operator's steps: migrate, then bootstrap the first key straight against the database.
    const cli = path.join(root, 'cli/bin/vigil.js');
    await run(process.execPath, [cli, 'migrate'], { env: childEnvironment(shared) });
    const created = await run(process.execPath, [cli, 'keys', 'create', '--role', 'admin', '--json'], {
      env: childEnvironment(shared),
    });
    adminKey = (JSON.parse(created.stdout) as { secret: string }).secret;

    const started = await Promise.allSettled([
      startService('ingestion', 'services/ingestion/dist/main.js', serviceEnv, 'ingestion service listening'),
      startService('dataset', 'services/dataset/dist/main.js', serviceEnv, 'dataset service listening'),
    ]);
    for (const result of started) if (result.status === 'fulfilled') services.push(result.value);
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [ingestion] = services;
    dataset = services[1]!;
    gateway = await startService(
      'gateway',
      'gateway/dist/main.js',
      {
        ...shared,
        PORT: '0',
        HOST: '127.0.0.1',
        INGESTION_URL: `${ingestion!.url}/graphql`,
        DATASET_URL: `${dataset.url}/graphql`,
        SUBGRAPH_WAIT_SECONDS: '20',
      },
      'gateway listening',
    );
    services.push(gateway);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => stopService(s)));
    await s3?.stop();
    if (testRedisUrl) {
      const redis = new Redis(testRedisUrl, { maxRetriesPerRequest: 1 });
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}:*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.unlink(...keys);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        redis.disconnect();
      }
    }
    if (databaseCreated) {
      const admin = await openDatabase({ kind: 'postgres', url: testDatabaseUrl ?? '', poolSize: 1 });
      try {
        await sql`drop database if exists ${sql.id(databaseName)} with (force)`.execute(admin.db);
      } finally {
        await admin.close();
      }
    }
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }, 30_000);

  it('reports every service healthy through the gateway', async () => {
    const response = await fetch(`${gateway.url}/healthz`);
    const body = (await response.json()) as { status: string; checks: Record<string, string> };
    expect(response.status).toBe(200);
    expect(body.checks).toEqual({ database: 'ok', ingestion: 'ok', dataset: 'ok' });
  });

  it('authenticates the bootstrapped key and answers from the in-process access subgraph', async () => {
    const data = await gql<{ viewer: { role: string } }>('{ viewer { role } }');
    expect(data.viewer.role).toBe('ADMIN');
    const anonymous = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer { role } }' }),
    });
    expect(anonymous.status).toBe(401);
  });

  it('uploads an image through the gateway to the ingestion service and reads it back', async () => {
    const bytes = await syntheticImage({ format: 'png', seed: 7, width: 40, height: 30 });
    const upload = await fetch(`${gateway.url}/v1/images?name=part-7.png&line=L1&tags=a,b`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'image/png' },
      body: bytes,
    });
    const uploaded = (await upload.json()) as { image: { id: string; width: number; format: string } };
    expect(upload.status).toBe(201);
    expect(uploaded.image).toMatchObject({ width: 40 });

    const content = await fetch(`${gateway.url}/v1/images/${uploaded.image.id}/content`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await content.arrayBuffer()).equals(bytes)).toBe(true);

    const anonymous = await fetch(`${gateway.url}/v1/images`, { method: 'POST', body: bytes });
    expect(anonymous.status).toBe(401);

    // The bytes went to the shared S3 bucket, where the dataset service can read them too.
    const listed = await s3!.client.send(new ListObjectsV2Command({ Bucket: 'vigil-dist' }));
    expect(listed.KeyCount ?? 0).toBeGreaterThan(0);
  });

  it('imports a Lookout folder with a BullMQ job run by the dataset service', async () => {
    await gql('mutation { createProject(input: { name: "dist-line" }) { id } }');
    const started = await gql<{ importFolder: { id: string } }>(
      'mutation($source: String!) { importFolder(input: { project: { name: "dist-line" }, source: $source }) { id } }',
      { source: imagesDir },
    );
    const deadline = Date.now() + 30_000;
    let job: { status: string; summary: { layout: string; entriesCreated: number } | null; error: unknown };
    for (;;) {
      const data = await gql<{ datasetImportJob: typeof job }>(
        'query($id: ID!) { datasetImportJob(id: $id) { status error { code message } summary { layout entriesCreated } } }',
        { id: started.importFolder.id },
      );
      job = data.datasetImportJob;
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status)) break;
      if (Date.now() > deadline)
        throw new Error(`import still ${job.status}:\n${dataset.output.slice(-20).join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(job).toMatchObject({ status: 'SUCCEEDED', summary: { entriesCreated: 8 } });

    const data = await gql<{ project: { datasets: { type: string; stats: Record<string, number> }[] } }>(
      '{ project(name: "dist-line") { datasets { type stats { total normal anomaly unlabelled } } } }',
    );
    const stats = Object.fromEntries(data.project.datasets.map((d) => [d.type, d.stats]));
    expect(stats).toEqual({
      TRAIN: { total: 5, normal: 3, anomaly: 2, unlabelled: 0 },
      TEST: { total: 3, normal: 2, anomaly: 1, unlabelled: 0 },
    });
  });

  it('serves the same API from the supergraph composed at build time (SUPERGRAPH_PATH)', async () => {
    const [ingestion, datasetService] = services;
    const fromFile = await startService(
      'gateway (supergraph file)',
      'gateway/dist/main.js',
      {
        DATABASE_URL: databaseUrl(databaseName),
        GATEWAY_SECRET: SECRET,
        PORT: '0',
        HOST: '127.0.0.1',
        SUPERGRAPH_PATH: path.join(root, 'gateway/dist/supergraph.graphql'),
        SUBGRAPHS: `ingestion=${ingestion!.url}/graphql,dataset=${datasetService!.url}/graphql`,
      },
      'gateway listening',
    );
    try {
      const response = await fetch(`${fromFile.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ query: '{ viewer { role } projects { nodes { name } } }' }),
      });
      const body = (await response.json()) as { data?: { viewer: { role: string }; projects: { nodes: unknown[] } } };
      expect(body.data?.viewer.role).toBe('ADMIN');
      expect(body.data?.projects.nodes).toEqual([{ name: 'dist-line' }]);
    } finally {
      await stopService(fromFile);
    }
  });

  it('refuses a subgraph called directly, without the gateway signature', async () => {
    for (const service of services.filter((s) => s.name !== 'gateway')) {
      const unsigned = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-vigil-principal': 'v1.e30.forged' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(unsigned.status).toBe(401);
      const bare = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(bare.status).toBe(401);
    }
    const images = await fetch(`${services[0]!.url}/v1/images/00000000-0000-0000-0000-000000000000/content`);
    expect(images.status).toBe(401);
  });
});
