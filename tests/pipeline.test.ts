/**
 * The detection pipeline under load and faults, in distributed mode (each service its own `dist/main.js`,
 * real Postgres, Redis and an S3 server): a burst of detections over two inference worker processes ends with
 * exactly one finished record per image; so does a burst during which a worker is SIGKILLed, and one during
 * which Redis restarts empty (a private redis-server, as the machine's keeps nothing on disk either). A
 * repeated idempotency key answers with the first result. Needs `npm run build` first.
 *
 * Fault recovery is fast here because the services get short queue timings (documented in packages/queue):
 * BullMQ's lock 2 s and stalled-job check every 1 s, a job lease of 2 s, and a queue reconciliation every 2 s.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openDatabase, sql, type DatabaseHandle } from '@vigil/db';
import { syntheticImage } from '@vigil/images/src/testing';
import { hasRedisServer, startPrivateRedis, type PrivateRedis } from '@vigil/queue/testing';
import { Cluster, clusterAvailable, type ClusterProcess, type ServiceName } from './support/cluster';
import { writeSmallProjectFolder } from './support/datasets';
import { skipMessage } from './support/environment';

const BURST = 1000;
/** The fault scenarios need a burst long enough to be interrupted in the middle, not a thousand images. */
const FAULT_BURST = 300;

const QUEUE_TIMINGS = {
  QUEUE_LOCK_DURATION_SECONDS: '2',
  QUEUE_STALLED_INTERVAL_SECONDS: '1',
  QUEUE_LEASE_SECONDS: '2',
  QUEUE_RECONCILE_INTERVAL_SECONDS: '2',
};

const available = clusterAvailable();
if (!available) {
  console.warn(skipMessage('pipeline tests', 'VIGIL_TEST_DATABASE_URL and VIGIL_TEST_REDIS_URL are not set'));
}
const privateRedisAvailable = hasRedisServer();
if (available && !privateRedisAvailable) {
  console.warn(skipMessage('the Redis restart pipeline test', 'redis-server is not on PATH'));
}

interface Batch {
  id: string;
  status: string;
  total: number;
  done: number;
  failed: number;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Writes `count` distinct 64×64 PNGs (distinct seeds, so distinct digests: nothing is deduplicated). */
async function writeBurstFolder(dir: string, count: number, seed: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < count; i += 1) {
    const bytes = await syntheticImage({ format: 'png', width: 64, height: 64, seed: seed + i, defect: i % 10 === 0 });
    await writeFile(path.join(dir, `part-${String(i).padStart(5, '0')}.png`), bytes);
  }
}

/** One cluster with a trained, hosted model and a dataset of burst images, driven through the gateway. */
class Pipeline {
  modelId = '';
  private readonly datasets = new Map<string, string>();
  private constructor(
    readonly cluster: Cluster,
    readonly db: DatabaseHandle,
  ) {}

  static async start(
    work: string,
    options: { redisUrl?: string; services?: readonly ServiceName[] } = {},
  ): Promise<Pipeline> {
    const cluster = await Cluster.start({
      ...(options.services ? { services: options.services } : {}),
      importRoots: [work],
      serviceEnv: QUEUE_TIMINGS,
      envFor: { inference: { INFERENCE_THREADS: '1', WORKER_CONCURRENCY: '2' } },
      ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
    });
    const db = await openDatabase({ kind: 'postgres', url: cluster.databaseUrl, poolSize: 2 });
    return new Pipeline(cluster, db);
  }

  /**
   * A cluster with `widgets` trained and hosted, a TEST dataset of `burst` distinct images, and a second inference
   * process, so the queue spreads work over two workers. Returns the burst dataset's id.
   */
  static async withBurst(
    work: string,
    burst: { readonly count: number; readonly seed: number; readonly widgetsSeed: number },
    options: { redisUrl?: string } = {},
  ): Promise<{ pipeline: Pipeline; burstDataset: string }> {
    await writeSmallProjectFolder(path.join(work, 'widgets'), burst.widgetsSeed);
    await writeBurstFolder(path.join(work, 'burst'), burst.count, burst.seed);
    const pipeline = await Pipeline.start(work, options);
    await pipeline.importFolder('widgets', path.join(work, 'widgets'));
    await pipeline.trainAndHost('widgets');
    await pipeline.importFolder('burst', path.join(work, 'burst'), { datasetType: 'TEST', label: 'NORMAL' });
    const burstDataset = await pipeline.datasetOf('burst', 'TEST');
    await pipeline.cluster.startService('inference');
    return { pipeline, burstDataset };
  }

  async stop(): Promise<void> {
    await this.db.close().catch(() => undefined);
    await this.cluster.stop();
  }

  async importFolder(project: string, source: string, extra: Record<string, unknown> = {}): Promise<void> {
    await this.cluster.gql(`mutation($name: String!) { createProject(input: { name: $name }) { id } }`, {
      name: project,
    });
    const job = await this.cluster.gql<{ importFolder: { id: string } }>(
      'mutation($input: ImportFolderInput!) { importFolder(input: $input) { id } }',
      { input: { project: { name: project }, source, ...extra } },
    );
    const finished = await until(
      async () =>
        (
          await this.cluster.gql<{ datasetImportJob: { status: string } }>(
            'query($id: ID!) { datasetImportJob(id: $id) { status } }',
            { id: job.importFolder.id },
          )
        ).datasetImportJob.status,
      (status) => !['QUEUED', 'RUNNING'].includes(status),
      120_000,
    );
    if (finished !== 'SUCCEEDED') throw new Error(`import of ${source} ended ${finished}`);
  }

  async imagesOf(datasetId: string, count: number): Promise<string[]> {
    const data = await this.cluster.gql<{ dataset: { entries: { nodes: { image: { id: string } }[] } } }>(
      'query($id: ID!, $first: Int!) { dataset(id: $id) { entries(first: $first) { nodes { image { id } } } } }',
      { id: datasetId, first: count },
    );
    return data.dataset.entries.nodes.map((node) => node.image.id);
  }

  async datasetOf(project: string, type: 'TRAIN' | 'TEST'): Promise<string> {
    const key = `${project}/${type}`;
    const known = this.datasets.get(key);
    if (known) return known;
    const data = await this.cluster.gql<{ project: { datasets: { id: string; type: string }[] } }>(
      'query($name: String!) { project(name: $name) { datasets { id type } } }',
      { name: project },
    );
    const dataset = data.project.datasets.find((d) => d.type === type);
    if (!dataset) throw new Error(`project ${project} has no ${type} dataset`);
    this.datasets.set(key, dataset.id);
    return dataset.id;
  }

  /** Trains a small cheap model (128 px, the engine's defaults otherwise) and hosts it. */
  async trainAndHost(project: string): Promise<void> {
    const created = await this.cluster.gql<{ createModel: { id: string } }>(
      'mutation($name: String!) { createModel(input: { project: { name: $name }, engine: { inputSize: 128 } }) { id } }',
      { name: project },
    );
    this.modelId = created.createModel.id;
    const status = () =>
      this.cluster
        .gql<{ modelVersion: { status: string } }>('query($id: ID!) { modelVersion(id: $id) { status } }', {
          id: this.modelId,
        })
        .then((data) => data.modelVersion.status);
    const trained = await until(status, (s) => s !== 'TRAINING', 120_000);
    if (trained !== 'TRAINED') throw new Error(`training ended ${trained}\n${this.cluster.recentLogs()}`);
    await this.cluster.gql(
      'mutation($id: ID!) { startModel(modelVersionId: $id, minWorkers: 1, maxWorkers: 2) { id } }',
      {
        id: this.modelId,
      },
    );
    const hosted = await until(status, (s) => s !== 'STARTING_HOSTING', 60_000);
    if (hosted !== 'HOSTED') throw new Error(`hosting ended ${hosted}\n${this.cluster.recentLogs()}`);
  }

  /** A batch over a dataset (its id) or over a list of image ids. */
  async submitBatch(images: string | readonly string[], idempotencyKey: string): Promise<Batch> {
    const source = typeof images === 'string' ? { datasetId: images } : { imageIds: images };
    const data = await this.cluster.gql<{ submitInspectionBatch: Batch }>(
      `mutation($input: SubmitInspectionBatchInput!) {
        submitInspectionBatch(input: $input) { id status total done failed }
      }`,
      { input: { modelVersionId: this.modelId, ...source, idempotencyKey } },
    );
    return data.submitInspectionBatch;
  }

  async batch(id: string): Promise<Batch> {
    const data = await this.cluster.gql<{ inspectionBatch: Batch }>(
      'query($id: ID!) { inspectionBatch(id: $id) { id status total done failed } }',
      { id },
    );
    return data.inspectionBatch;
  }

  waitForBatch(id: string, timeoutMs = 150_000): Promise<Batch> {
    return until(
      () => this.batch(id),
      (batch) => batch.done + batch.failed >= batch.total,
      timeoutMs,
    );
  }

  /**
   * What the records say about a batch, read straight from the database: per image, how many records and in
   * which status; and how its jobs ended.
   */
  /**
   * The audit once every job of the batch has settled. A worker killed after it finished an inspection but
   * before it marked the job succeeded leaves that job running until its lease expires and another worker
   * re-runs it (finding the inspection done): the batch is DONE before its jobs are.
   */
  settledAudit(batchId: string) {
    return until(
      () => this.audit(batchId),
      (audit) => Object.keys(audit.jobs).every((status) => status !== 'queued' && status !== 'running'),
      60_000,
    );
  }

  async audit(batchId: string) {
    const records = await sql<{ image_id: string; records: number; done: number }>`
      select image_id, count(*)::int as records, count(*) filter (where status = 'DONE')::int as done
      from inspections where batch_id = ${batchId} group by image_id`.execute(this.db.db);
    const jobs = await sql<{ status: string; count: number }>`
      select j.status, count(*)::int as count from jobs j
      join inspections i on i.job_id = j.id where i.batch_id = ${batchId} group by j.status`.execute(this.db.db);
    return {
      images: records.rows.length,
      imagesWithOneRecord: records.rows.filter((row) => row.records === 1).length,
      imagesDone: records.rows.filter((row) => row.done === 1).length,
      jobs: Object.fromEntries(jobs.rows.map((row) => [row.status, row.count])),
    };
  }
}

/** Images this worker process inspected, from its own Prometheus counter. */
async function imagesInspectedBy(worker: ClusterProcess): Promise<number> {
  const text = await (await fetch(`${worker.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('vigil_inference_images_total{'))
    .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
}

(available ? describe : describe.skip)('detection pipeline on the machine’s Postgres and Redis', () => {
  let work: string;
  let pipeline: Pipeline;
  let burstDataset: string;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'vigil-pipeline-'));
    ({ pipeline, burstDataset } = await Pipeline.withBurst(work, { count: BURST, seed: 100_000, widgetsSeed: 700 }));
  }, 300_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it(`inspects a burst of ${BURST} images over two worker processes, each exactly once`, async () => {
    const workers = pipeline.cluster.processesOf('inference');
    expect(workers).toHaveLength(2);
    const before = await Promise.all(workers.map(imagesInspectedBy));
    const batch = await pipeline.submitBatch(burstDataset, 'burst-1');
    expect(batch.total).toBe(BURST);
    const done = await pipeline.waitForBatch(batch.id);
    expect(done).toMatchObject({ status: 'DONE', total: BURST, done: BURST, failed: 0 });
    expect(await pipeline.settledAudit(batch.id)).toEqual({
      images: BURST,
      imagesWithOneRecord: BURST,
      imagesDone: BURST,
      jobs: { succeeded: BURST },
    });
    const after = await Promise.all(workers.map(imagesInspectedBy));
    const share = after.map((count, i) => count - (before[i] ?? 0));
    expect(share.reduce((a, b) => a + b, 0)).toBe(BURST);
    for (const count of share) expect(count).toBeGreaterThan(0);
  });

  it('still inspects every image exactly once when a worker is SIGKILLed mid-burst', async () => {
    const victim = pipeline.cluster.processesOf('inference')[1];
    if (!victim) throw new Error('no second worker');
    const images = await pipeline.imagesOf(burstDataset, FAULT_BURST);
    const batch = await pipeline.submitBatch(images, 'burst-kill');
    expect(batch.total).toBe(FAULT_BURST);
    await until(
      () => pipeline.batch(batch.id),
      (b) => b.done >= FAULT_BURST / 10,
      120_000,
    );
    await pipeline.cluster.kill(victim, 'SIGKILL');
    const done = await pipeline.waitForBatch(batch.id);
    expect(done).toMatchObject({ status: 'DONE', total: FAULT_BURST, done: FAULT_BURST, failed: 0 });
    expect(await pipeline.settledAudit(batch.id)).toEqual({
      images: FAULT_BURST,
      imagesWithOneRecord: FAULT_BURST,
      imagesDone: FAULT_BURST,
      jobs: { succeeded: FAULT_BURST },
    });
  });

  it('answers a repeated idempotency key with the first result', async () => {
    const [firstImage, secondImage] = await pipeline.imagesOf(burstDataset, 2);
    const detect = (imageId: string | undefined) =>
      pipeline.cluster.gql<{ detectAnomalies: { id: string; status: string; imageId: string; score: number } }>(
        `mutation($input: DetectAnomaliesInput!) { detectAnomalies(input: $input) { id status imageId score } }`,
        { input: { modelVersionId: pipeline.modelId, imageId, idempotencyKey: 'line-4-part-77' } },
      );
    const first = (await detect(firstImage)).detectAnomalies;
    expect(first).toMatchObject({ status: 'DONE', imageId: firstImage });
    const again = (await detect(secondImage)).detectAnomalies;
    expect(again).toEqual(first);
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from inspections where idempotency_key = 'line-4-part-77'`.execute(pipeline.db.db);
    expect(rows[0]?.n).toBe(1);

    const batch = await pipeline.submitBatch(burstDataset, 'burst-1');
    const { rows: batches } = await sql<{ n: number }>`
      select count(*)::int as n from inspections where batch_id = ${batch.id}`.execute(pipeline.db.db);
    expect(batches[0]?.n).toBe(BURST);
  });
});

(available ? describe : describe.skip)('the dead-letter desk in distributed mode', () => {
  let work: string;
  let pipeline: Pipeline;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'vigil-dead-letters-'));
    pipeline = await Pipeline.start(work, { services: ['ingestion', 'dataset'] });
  }, 120_000);

  afterAll(async () => {
    await pipeline?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('lists a job that failed for good and replays it, through GraphQL and the CLI, for admins only', async () => {
    const cluster = pipeline.cluster;
    // An import of a folder that is still empty fails for good (BAD_USER_INPUT): a dead letter.
    const late = path.join(work, 'late');
    await mkdir(late);
    await cluster.gql('mutation { createProject(input: { name: "late" }) { id } }');
    const job = await cluster.gql<{ importFolder: { id: string } }>(
      'mutation($source: String!) { importFolder(input: { project: { name: "late" }, source: $source }) { id } }',
      { source: late },
    );
    const jobId = job.importFolder.id;
    const importStatus = () =>
      cluster
        .gql<{ datasetImportJob: { status: string } }>('query($id: ID!) { datasetImportJob(id: $id) { status } }', {
          id: jobId,
        })
        .then((data) => data.datasetImportJob.status);
    expect(await until(importStatus, (s) => !['QUEUED', 'RUNNING'].includes(s), 60_000)).toBe('FAILED');

    const LIST = `{ deadLetters(first: 10) { nodes { id queue kind status attempts error { code message } payload }
      pageInfo { hasNextPage } } }`;
    const listed = await cluster.gql<{
      deadLetters: { nodes: { id: string; status: string; attempts: number; error: { code: string } }[] };
    }>(LIST);
    expect(listed.deadLetters.nodes).toEqual([
      expect.objectContaining({
        id: jobId,
        status: 'FAILED',
        attempts: 1,
        error: expect.objectContaining({ code: 'BAD_USER_INPUT' }),
      }),
    ]);

    for (const role of ['VIEWER', 'OPERATOR']) {
      const key = await cluster.gql<{ createApiKey: { secret: string } }>(
        'mutation($role: Role!) { createApiKey(name: "desk", role: $role) { secret } }',
        { role },
      );
      const secret = key.createApiKey.secret;
      expect((await cluster.graphql(LIST, {}, secret)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const replay = await cluster.graphql(
        'mutation($id: ID!) { replayDeadLetter(id: $id) { id } }',
        { id: jobId },
        secret,
      );
      expect(replay.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }

    // The cause is fixed (the images arrived); the admin replays the job from the command line.
    await writeBurstFolder(late, 3, 300_000);
    const cliEnv = { VIGIL_URL: cluster.url, VIGIL_API_KEY: cluster.adminKey };
    const page = JSON.parse(await cluster.cli(['jobs', 'dead-letters', '--json'], cliEnv)) as {
      nodes: { id: string }[];
    };
    expect(page.nodes.map((node) => node.id)).toEqual([jobId]);
    expect(await cluster.cli(['jobs', 'replay', jobId], cliEnv)).toMatch(new RegExp(`replayed ${jobId} .*: queued`));
    expect(await until(importStatus, (s) => !['QUEUED', 'RUNNING'].includes(s), 60_000)).toBe('SUCCEEDED');
    expect((await cluster.gql<{ deadLetters: { nodes: unknown[] } }>(LIST)).deadLetters.nodes).toEqual([]);
    const audit = await cluster.gql<{ auditLog: { nodes: { actorId: string; action: string; entityId: string }[] } }>(
      '{ auditLog(filter: { action: "job.replay" }) { nodes { actorId action entityId } } }',
    );
    expect(audit.auditLog.nodes).toEqual([expect.objectContaining({ action: 'job.replay', entityId: jobId })]);
    await expect(cluster.cli(['jobs', 'replay', jobId], cliEnv)).rejects.toThrow(/CONFLICT|only a failed job/);
  });
});

(available && privateRedisAvailable ? describe : describe.skip)(
  'detection pipeline when Redis restarts empty mid-burst',
  () => {
    let work: string;
    let redis: PrivateRedis;
    let pipeline: Pipeline;
    let burstDataset: string;

    beforeAll(async () => {
      work = await mkdtemp(path.join(os.tmpdir(), 'vigil-pipeline-redis-'));
      redis = await startPrivateRedis();
      ({ pipeline, burstDataset } = await Pipeline.withBurst(
        work,
        { count: FAULT_BURST, seed: 200_000, widgetsSeed: 900 },
        { redisUrl: redis.url },
      ));
    }, 300_000);

    afterAll(async () => {
      await pipeline?.stop();
      await redis?.stop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('still inspects every image exactly once', async () => {
      const batch = await pipeline.submitBatch(burstDataset, 'burst-redis');
      expect(batch.total).toBe(FAULT_BURST);
      await until(
        () => pipeline.batch(batch.id),
        (b) => b.done >= FAULT_BURST / 10,
        120_000,
      );
      // Every queued id and every lock in Redis is gone; the jobs table still knows them all.
      await redis.restart();
      const done = await pipeline.waitForBatch(batch.id);
      expect(done).toMatchObject({ status: 'DONE', total: FAULT_BURST, done: FAULT_BURST, failed: 0 });
      expect(await pipeline.settledAudit(batch.id)).toEqual({
        images: FAULT_BURST,
        imagesWithOneRecord: FAULT_BURST,
        imagesDone: FAULT_BURST,
        jobs: { succeeded: FAULT_BURST },
      });
    });
  },
);
