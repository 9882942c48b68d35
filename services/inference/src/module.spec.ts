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
import { encodeJson, eventsV1, EVENTS_QUEUE } from '@vigil/proto';
import type { DetectionModel, InferenceEngine } from './domain/engine';
import type { Inspection } from './domain/types';
import { createInferenceService, type InferenceConfig, type InferenceModule } from './module';
import { insertModelVersion, insertProject } from './testing/rows';

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
  const projectId = await insertProject(db);
  await store.put('models/artifact', Buffer.from('artifact'));
  modelVersionId = await insertModelVersion(db, projectId, { status: 'TRAINED', artifactKey: 'models/artifact' });
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

  it('queues a recorded detection that never got its job (a crash between the steps) when the call is retried', async () => {
    // The state a process leaves when it dies after recording the inspection and before queuing it.
    await handle.db
      .insertInto('inspections')
      .values({
        project_id: (await running.module.hosting.version(modelVersionId)).projectId,
        model_version_id: modelVersionId,
        model_version: 1,
        artifact_sha256: 'a'.repeat(64),
        image_id: images[3]!,
        status: 'QUEUED',
        requested_by: 'key-1',
        idempotency_key: 'lost-1',
      })
      .execute();
    const retried = await running.module.inspections.detect(
      { modelVersionId, imageId: images[3], idempotencyKey: 'lost-1' },
      actor,
    );
    expect(retried).toMatchObject({ status: 'DONE', idempotencyKey: 'lost-1' });
    const rows = await handle.db
      .selectFrom('inspections')
      .selectAll()
      .where('idempotency_key', '=', 'lost-1')
      .execute();
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

async function insertVersion(
  projectId: string,
  values: { status: string; digest: string; width?: number; height?: number },
): Promise<string> {
  return insertModelVersion(handle.db, projectId, { ...values, artifactKey: 'models/artifact' });
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const value = await read();
    if (done(value) || i > 500) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('bad input', () => {
  let running: { module: InferenceModule; jobs: RunningJobSystem };
  let sized: string;
  beforeAll(async () => {
    running = await open({ maxBatchImages: 20_000 }, { workers: false });
    sized = await insertVersion(await insertProject(handle.db, 'sized'), {
      status: 'HOSTED',
      digest: 'e'.repeat(64),
      width: 32,
      height: 24,
    });
  });
  afterAll(async () => {
    await running?.jobs.close();
  });

  it('refuses an image without the training images size, before queuing, with expected and actual', async () => {
    const single = await errorOf(
      running.module.inspections.detect({ modelVersionId: sized, imageId: images[0] }, actor),
    );
    expect(single).toEqual({
      code: 'INVALID_IMAGE',
      details: expect.objectContaining({ expected: { width: 32, height: 24 }, actual: { width: 16, height: 16 } }),
    });
    const batch = await errorOf(
      running.module.inspections.submitBatch({ modelVersionId: sized, imageIds: [images[0], images[1]] }, actor),
    );
    expect(batch).toEqual({
      code: 'INVALID_IMAGE',
      details: expect.objectContaining({ expected: { width: 32, height: 24 }, count: 2 }),
    });
    const recorded = await handle.db
      .selectFrom('inspections')
      .select('id')
      .where('model_version_id', '=', sized)
      .execute();
    expect(recorded).toEqual([]);
  });

  it('refuses a batch of 100,000 ids with its limit, before reading any of them', async () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => i.toString(16).padStart(64, '0'));
    const refused = await errorOf(
      running.module.inspections.submitBatch({ modelVersionId: sized, imageIds: ids }, actor),
    );
    expect(refused).toEqual({ code: 'BAD_USER_INPUT', details: { limit: 20_000, count: 100_000 } });
  });

  it('answers NOT_FOUND once the project (and with it the version) is deleted', async () => {
    const projectId = await insertProject(handle.db, 'doomed');
    const doomed = await insertVersion(projectId, { status: 'HOSTED', digest: 'f'.repeat(64) });
    await handle.db.deleteFrom('projects').where('id', '=', projectId).execute();
    const single = await errorOf(
      running.module.inspections.detect({ modelVersionId: doomed, imageId: images[0] }, actor),
    );
    expect(single.code).toBe('NOT_FOUND');
    const batch = await errorOf(
      running.module.inspections.submitBatch({ modelVersionId: doomed, imageIds: [images[0]] }, actor),
    );
    expect(batch.code).toBe('NOT_FOUND');
  });
});

describe('stopModel across worker processes', () => {
  it('every process drops a stopped version at its next sweep, and the registry counts who has it loaded', async () => {
    const digest = 'b'.repeat(64);
    const version = await insertVersion(await insertProject(handle.db, 'two-workers'), { status: 'TRAINED', digest });
    const a = await open({ heartbeatMs: 60_000 });
    const b = await open({ heartbeatMs: 60_000 });
    try {
      await a.module.hosting.start(version, 1, 3, actor);
      await until(
        () => a.module.hosting.version(version),
        (v) => v.status === 'HOSTED',
      );
      // The second process loads it as it would on its first detection of this version.
      await b.module.hosting.runHostJob({ modelVersionId: version, actor });
      await a.module.workers.tick();
      await b.module.workers.tick();
      expect(await a.module.workers.loadedBy(digest)).toBe(2);
      expect(await a.module.workers.alive()).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: a.module.workers.id, pid: process.pid }),
          expect.objectContaining({ id: b.module.workers.id }),
        ]),
      );

      await a.module.hosting.stop(version, actor);
      await a.module.workers.tick();
      expect(await a.module.workers.loadedBy(digest)).toBe(1);
      expect(await b.module.workers.sweep()).toEqual([digest]);
      await b.module.workers.tick();
      expect(await a.module.workers.loadedBy(digest)).toBe(0);
      // And nothing new runs on it: a detection is refused before it is queued.
      const refused = await errorOf(
        b.module.inspections.detect({ modelVersionId: version, imageId: images[0] }, actor),
      );
      expect(refused.code).toBe('CONFLICT');
    } finally {
      for (const p of [a, b]) {
        await p.jobs.close();
        await p.module.close();
      }
    }
    const rows = await handle.db.selectFrom('inference_workers').select('id').execute();
    expect(rows.map((r) => r.id)).not.toEqual(expect.arrayContaining([a.module.workers.id]));
  });

  it('exports the desired workers of each hosted version as a Prometheus gauge', async () => {
    const digest = 'd'.repeat(64);
    const version = await insertVersion(await insertProject(handle.db, 'gauged'), { status: 'TRAINED', digest });
    const p = await open({ jobsPerWorker: 2 }, { workers: false });
    try {
      await p.module.hosting.start(version, 1, 3, actor);
      const text = await p.module.metrics.text();
      // The host-model job is queued, not an inspection: nothing pending, so the minimum.
      expect(text).toContain(`vigil_inference_desired_workers{model_version_id="${version}"} 1`);
      for (const imageId of images.slice(0, 3)) {
        await handle.db
          .insertInto('inspections')
          .values({
            project_id: (await p.module.hosting.version(version)).projectId,
            model_version_id: version,
            model_version: 1,
            artifact_sha256: digest,
            image_id: imageId,
            status: 'QUEUED',
            requested_by: 'seed',
          })
          .execute();
      }
      expect(await p.module.metrics.text()).toContain(
        `vigil_inference_desired_workers{model_version_id="${version}"} 2`,
      );
    } finally {
      await p.jobs.close();
    }
  });
});

describe('automatic inspection of newly ingested images', () => {
  it('inspects each matching new image once with the hosted version, on the batch queue', async () => {
    const projectId = await insertProject(handle.db, 'auto');
    const version = await insertVersion(projectId, { status: 'TRAINED', digest: 'c'.repeat(64) });
    const other = await insertVersion(await insertProject(handle.db, 'auto-other'), {
      status: 'TRAINED',
      digest: 'c'.repeat(64),
    });
    const p = await open();
    try {
      const auto = p.module.autoInspection;
      const input = { projectId, modelVersionId: version, enabled: true, line: 'L9' };
      expect((await errorOf(auto.set(input, actor))).code).toBe('CONFLICT');
      expect((await errorOf(auto.set({ ...input, modelVersionId: other }, actor))).code).toBe('BAD_USER_INPUT');
      await p.module.hosting.start(version, 1, 1, actor);
      await until(
        () => p.module.hosting.version(version),
        (v) => v.status === 'HOSTED',
      );
      expect(await auto.set(input, actor)).toMatchObject({ enabled: true, match: { line: 'L9', station: null } });

      const bytes = await syntheticImage({ format: 'png', width: 16, height: 16, seed: 77 });
      const image = (await catalog.ingest({ bytes, metadata: { line: 'L9' }, actor: actor.principal })).image;
      const event = encodeJson(eventsV1.ImageIngestedSchema, {
        imageId: image.id,
        sha256: image.id,
        width: 16,
        height: 16,
        metadata: { line: 'L9' },
      });
      // Delivered twice (a redelivery): still one inspection.
      const jobs = [
        await p.jobs.system.submit({
          queue: EVENTS_QUEUE,
          kind: eventsV1.ImageIngestedSchema.typeName,
          payload: event,
          createdBy: 'x',
        }),
        await p.jobs.system.submit({
          queue: EVENTS_QUEUE,
          kind: eventsV1.ImageIngestedSchema.typeName,
          payload: event,
          createdBy: 'x',
        }),
      ];
      for (const job of jobs) {
        const done = await until(
          () => p.jobs.system.get(job.id),
          (j) => j?.status === 'succeeded' || j?.status === 'failed',
        );
        expect(done?.status).toBe('succeeded');
      }
      const key = `auto:${projectId}:${version}:${image.id}`;
      const inspection = await until(
        () => p.module.inspections.list({ projectId }, { first: 10 }),
        (page) => page.nodes.every((n) => n.status === 'DONE'),
      );
      expect(inspection.nodes).toEqual([
        expect.objectContaining({
          imageId: image.id,
          status: 'DONE',
          idempotencyKey: key,
          requestedBy: 'auto-inspection',
        }),
      ]);
      const job = await p.jobs.system.get(inspection.nodes[0]?.jobId as string);
      expect(job?.queue).toBe('inference-batch');

      // Another line, or the setting disabled: nothing.
      expect(
        await auto.onImageIngested({
          imageId: images[0] as string,
          width: 16,
          height: 16,
          line: 'L8',
          station: null,
          camera: null,
        }),
      ).toEqual({
        inspected: 0,
        skipped: 0,
      });
      await auto.set({ projectId, enabled: false }, actor);
      expect(
        await auto.onImageIngested({
          imageId: images[0] as string,
          width: 16,
          height: 16,
          line: 'L9',
          station: null,
          camera: null,
        }),
      ).toEqual({
        inspected: 0,
        skipped: 0,
      });
      const audit = await handle.db
        .selectFrom('audit_log')
        .select('action')
        .where('entity_id', '=', projectId)
        .execute();
      expect(audit.map((r) => r.action)).toEqual(['inspection.auto.set', 'inspection.auto.set']);
    } finally {
      await p.jobs.close();
      await p.module.close();
    }
  });
});
