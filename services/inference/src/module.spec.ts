import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { isVigilError, Role } from '@vigil/contracts';
import type { DatabaseHandle } from '@vigil/db';
import { ImageCatalog, KyselyImageRepository } from '@vigil/images';
import { InMemoryObjectStore, openMigratedTestDatabase, syntheticImage } from '@vigil/images/src/testing';
import {
  KyselyAuditTrail,
  loadEnvironment,
  openJobSystem,
  platformEnvironmentSchema,
  silentLogger,
  type RunningJobSystem,
} from '@vigil/service-kit';
import type { DetectionModel, InferenceEngine } from './domain/engine';
import type { Inspection } from './domain/types';
import { createInferenceService, type InferenceConfig, type InferenceModule } from './module';

const actor = { principal: { id: 'key-1', name: 'alice', role: Role.Operator }, requestId: 'req-1' };
const POISON = 'poison';

/**
 * A fake engine: an image whose first pixel bytes sum high is an anomaly; one tagged as poisoned throws like a
 * decoder crash. Its heat map is a fixed PNG-signature blob.
 */
const fakeEngine = async (): Promise<InferenceEngine> => ({
  loadModel: async (): Promise<DetectionModel> => ({
    detect: async (bytes) => {
      if (Buffer.from(bytes).includes(Buffer.from(POISON))) throw new Error('decoder crashed');
      const score = (bytes[bytes.length - 1] ?? 0) / 255;
      return {
        isAnomalous: score >= 0.5,
        confidence: score >= 0.5 ? score : 1 - score,
        score,
        rawScore: score * 2,
        threshold: 1,
        heatmap: Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.from(bytes.slice(0, 16))]),
      };
    },
    release: async () => undefined,
  }),
});

const CONFIG: InferenceConfig = {
  maxQueueDepth: 100,
  retryAfterSeconds: 7,
  modelCacheSize: 2,
  threads: 1,
  detectTimeoutMs: 10_000,
  maxUploadBytes: 10_000_000,
  maxBatchImages: 5,
};

let handle: DatabaseHandle;
let store: InMemoryObjectStore;
let catalog: ImageCatalog;
let modelVersionId: string;
const images: string[] = [];
let poisonedImage: string;

beforeAll(async () => {
  handle = await openMigratedTestDatabase();
  const db = handle.db;
  store = new InMemoryObjectStore();
  catalog = new ImageCatalog({ images: new KyselyImageRepository(db), store });
  for (let seed = 1; seed <= 4; seed++) {
    const bytes = await syntheticImage({ format: 'png', width: 16, height: 16, seed, defect: seed % 2 === 0 });
    images.push((await catalog.ingest({ bytes, metadata: { line: `L${seed % 2}` }, actor: actor.principal })).image.id);
  }
  const poisoned = Buffer.concat([
    await syntheticImage({ format: 'png', width: 16, height: 16, seed: 99 }),
    Buffer.from(POISON),
  ]);
  poisonedImage = (await catalog.ingest({ bytes: poisoned, actor: actor.principal })).image.id;
  const project = await db
    .insertInto('projects')
    .values({ name: 'p', created_by: 'seed' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await store.put('models/artifact', Buffer.from('artifact'));
  modelVersionId = (
    await db
      .insertInto('model_versions')
      .values({
        project_id: project.id,
        version: 1,
        status: 'TRAINED',
        artifact_key: 'models/artifact',
        artifact_sha256: 'a'.repeat(64),
        engine_config: '{}',
        created_by: 'seed',
      })
      .returning('id')
      .executeTakeFirstOrThrow()
  ).id;
});

afterAll(() => handle?.close());

async function open(
  config: Partial<InferenceConfig> = {},
  options: { workers?: boolean } = {},
): Promise<{ module: InferenceModule; jobs: RunningJobSystem }> {
  const environment = loadEnvironment(platformEnvironmentSchema, { LOG_LEVEL: 'silent' });
  const jobs = await openJobSystem(environment, handle.db, silentLogger());
  const module = createInferenceService({
    db: handle.db,
    store,
    images: catalog,
    jobs: jobs.system,
    audit: new KyselyAuditTrail(handle.db),
    log: silentLogger(),
    config: { ...CONFIG, ...config },
    engine: fakeEngine,
  });
  if (options.workers ?? true) module.registerWorkers();
  await jobs.start();
  return { module, jobs };
}

async function errorOf(promise: Promise<unknown>): Promise<{ code: string; details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    if (isVigilError(error)) return { code: error.code, details: error.details };
    throw error;
  }
  throw new Error('expected an error');
}

describe('inference service (PGlite, in-process jobs, fake engine)', () => {
  let running: { module: InferenceModule; jobs: RunningJobSystem };

  beforeAll(async () => {
    running = await open();
    await running.module.hosting.start(modelVersionId, 1, 2, actor);
    for (let i = 0; i < 100; i++) {
      if ((await running.module.hosting.version(modelVersionId)).status === 'HOSTED') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  afterAll(async () => {
    await running?.jobs.close();
    await running?.module.close();
  });

  it('hosts the version once a worker loaded it', async () => {
    expect((await running.module.hosting.version(modelVersionId)).status).toBe('HOSTED');
    expect(await running.module.hosting.deployment(modelVersionId)).toMatchObject({
      actualState: 'HOSTED',
      minWorkers: 1,
      maxWorkers: 2,
    });
  });

  it('writes a record per detection with the verdict, the artifact digest, timings and the heat map key', async () => {
    const inspection = await running.module.inspections.detect(
      { modelVersionId, imageId: images[0], metadata: { station: 'S3' } },
      actor,
    );
    expect(inspection).toMatchObject({
      status: 'DONE',
      imageId: images[0],
      artifactSha256: 'a'.repeat(64),
      modelVersion: 1,
      requestedBy: 'key-1',
      metadata: { line: 'L1', station: 'S3' },
      error: null,
    });
    expect(inspection.verdict === 'anomaly').toBe((inspection.score ?? 0) >= 0.5);
    expect(inspection.heatmapKey).toMatch(/^heatmaps\//);
    expect(store.objects.has(inspection.heatmapKey as string)).toBe(true);
    expect(inspection.timings?.totalMs).toBeGreaterThanOrEqual(0);
  });

  it('returns the first inspection for a duplicate idempotency key', async () => {
    const a = await running.module.inspections.detect(
      { modelVersionId, imageId: images[1], idempotencyKey: 'k1' },
      actor,
    );
    const b = await running.module.inspections.detect(
      { modelVersionId, imageId: images[2], idempotencyKey: 'k1' },
      actor,
    );
    expect(b.id).toBe(a.id);
    const rows = await handle.db.selectFrom('inspections').selectAll().where('idempotency_key', '=', 'k1').execute();
    expect(rows).toHaveLength(1);
  });

  it('fails a poisoned image in its own inspection only', async () => {
    const batch = await running.module.inspections.submitBatch(
      { modelVersionId, imageIds: [images[0], poisonedImage, images[3]] },
      actor,
    );
    let current = batch;
    for (let i = 0; i < 200 && current.status !== 'DONE'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      current = await running.module.inspections.batch(batch.id);
    }
    expect(current).toMatchObject({ status: 'DONE', total: 3, done: 2, failed: 1 });
    const page = await running.module.inspections.list({ batchId: batch.id }, { first: 10 });
    const failed = page.nodes.filter((n) => n.status === 'FAILED');
    expect(failed.map((n) => [n.imageId, n.error?.code])).toEqual([[poisonedImage, 'INVALID_IMAGE']]);
  });

  it('keeps the original verdict under an override', async () => {
    const inspection = await running.module.inspections.detect({ modelVersionId, imageId: images[3] }, actor);
    const flipped = inspection.verdict === 'anomaly' ? 'normal' : 'anomaly';
    await running.module.inspections.override(inspection.id, flipped, 'seen by QA', actor);
    const stored = await running.module.inspections.get(inspection.id);
    expect(stored.verdict).toBe(inspection.verdict);
    expect(await running.module.inspections.effectiveVerdict(stored)).toBe(flipped);
    await expect(
      handle.db.deleteFrom('inspection_overrides').where('inspection_id', '=', inspection.id).execute(),
    ).rejects.toThrow(/append-only/);
  });

  it('filters and pages newest first without repeats', async () => {
    const all: Inspection[] = [];
    let after: string | null = null;
    do {
      const page = await running.module.inspections.list({ projectId: undefined }, { first: 2, after });
      all.push(...page.nodes);
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);
    const total = await handle.db.selectFrom('inspections').select('id').execute();
    expect(all.map((n) => n.id).sort()).toEqual(total.map((r) => r.id).sort());
    for (let i = 1; i < all.length; i++) {
      expect((all[i - 1] as Inspection).createdAt.getTime()).toBeGreaterThanOrEqual(
        (all[i] as Inspection).createdAt.getTime(),
      );
    }
    const line1 = await running.module.inspections.list({ line: 'L1', status: 'DONE' }, { first: 50 });
    expect(line1.nodes.length).toBeGreaterThan(0);
    expect(line1.nodes.every((n) => n.metadata.line === 'L1')).toBe(true);
    const anomalies = await running.module.inspections.list({ verdict: 'anomaly' }, { first: 50 });
    expect(anomalies.nodes.every((n) => n.verdict === 'anomaly')).toBe(true);
  });

  it('refuses a batch over the per-call limit and unknown images', async () => {
    const tooMany = await errorOf(
      running.module.inspections.submitBatch({ modelVersionId, imageIds: ['1', '2', '3', '4', '5', '6'] }, actor),
    );
    expect(tooMany.code).toBe('BAD_USER_INPUT');
    const unknown = await errorOf(
      running.module.inspections.submitBatch({ modelVersionId, imageIds: ['f'.repeat(64)] }, actor),
    );
    expect(unknown.code).toBe('NOT_FOUND');
  });
});

describe('backpressure', () => {
  let running: { module: InferenceModule; jobs: RunningJobSystem } | null = null;
  afterEach(async () => {
    await running?.jobs.close();
    running = null;
  });

  it('refuses work above the configured queue depth with RESOURCE_EXHAUSTED, keeping what was queued', async () => {
    // No workers in this process: queued work stays queued.
    running = await open({ maxQueueDepth: 1, detectTimeoutMs: 50 }, { workers: false });
    await handle.db
      .updateTable('jobs')
      .set({ status: 'succeeded' })
      .where('status', 'in', ['queued', 'running'])
      .execute();
    const pending = await running.module.inspections.detect({ modelVersionId, imageId: images[1] }, actor);
    expect(pending.status).toBe('QUEUED');
    const refused = await errorOf(running.module.inspections.detect({ modelVersionId, imageId: images[2] }, actor));
    expect(refused).toEqual({
      code: 'RESOURCE_EXHAUSTED',
      details: expect.objectContaining({ retryAfterSeconds: 7, limit: 1, queue: 'inference-interactive' }),
    });
    expect((await running.module.inspections.get(pending.id)).status).toBe('QUEUED');
  });
});
