import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { isVigilError, VigilError } from '@vigil/contracts';
import type { DatabaseHandle } from '@vigil/db';
import { InMemoryObjectStore, openMigratedTestDatabase } from '@vigil/images/src/testing';
import { InMemoryJobStore } from '@vigil/queue/testing';
import { KyselyEvaluationRepository } from '../repositories/evaluations';
import { KyselyModelVersionRepository } from '../repositories/model-versions';
import { KyselyTrainingDataSource } from '../repositories/training-data';
import { Trainer } from '../jobs/trainer';
import { TrainingJobKind, TrainingQueue } from '../jobs/payloads';
import { actor, fakeEngine, fakeImages, jobContext, jobPort, RecordingAudit, seedProject } from '../testing/fixtures';
import { ModelService, type Transactor } from './models';
import { ModelStatus } from './statuses';

let handle: DatabaseHandle;
let store: InMemoryObjectStore;
let jobs: InMemoryJobStore;
let audit: RecordingAudit;
let models: ModelService;
let names: Map<string, string>;
let engine: ReturnType<typeof fakeEngine>;

function trainer(options: Parameters<typeof fakeEngine>[0] = {}): Trainer {
  engine = fakeEngine(options);
  const tx: Transactor = { transaction: (work) => handle.db.transaction().execute(work) };
  return new Trainer(
    new KyselyModelVersionRepository(handle.db),
    new KyselyEvaluationRepository(handle.db),
    new KyselyTrainingDataSource(handle.db),
    fakeImages(() => names),
    store,
    async () => engine,
    audit,
    tx,
    { threads: 1, maxMaskBytes: 1_000_000 },
  );
}

async function rejection(promise: Promise<unknown>): Promise<VigilError> {
  try {
    await promise;
  } catch (error) {
    if (isVigilError(error)) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

async function seed(name: string, datasets: Parameters<typeof seedProject>[2]): Promise<string> {
  const seeded = await seedProject(handle.db, name, datasets);
  for (const [id, label] of seeded.names) names.set(id, label);
  return seeded.projectId;
}

beforeAll(async () => {
  handle = await openMigratedTestDatabase();
  names = new Map();
});
afterAll(() => handle.close());
beforeEach(() => {
  store = new InMemoryObjectStore();
  jobs = new InMemoryJobStore();
  audit = new RecordingAudit();
  const tx: Transactor = { transaction: (work) => handle.db.transaction().execute(work) };
  models = new ModelService(
    new KyselyModelVersionRepository(handle.db),
    new KyselyEvaluationRepository(handle.db),
    new KyselyTrainingDataSource(handle.db),
    jobPort(jobs),
    store,
    audit,
    tx,
  );
});

describe('ModelService.create', () => {
  it('numbers versions 1, 2, 3 per project, never reusing one, and queues a training job for each', async () => {
    const projectId = await seed('numbering', { train: { normal: 4, anomaly: 1 }, test: { normal: 1, anomaly: 1 } });
    const v1 = await models.create({ project: { name: 'numbering' } }, actor);
    const v2 = await models.create({ project: { id: projectId }, description: ' second ' }, actor);
    expect([v1.version, v2.version]).toEqual([1, 2]);
    expect(v1).toMatchObject({ status: ModelStatus.Training, createdBy: 'alice', projectId });
    expect(v2.description).toBe('second');
    const job = await jobs.get(v1.jobId as string);
    expect(job).toMatchObject({ queue: TrainingQueue.Training, kind: TrainingJobKind.TrainModel });
    expect(job?.payload).toMatchObject({ modelVersionId: v1.id, actor: { principal: { name: 'alice' } } });
    expect(audit.events.map((e) => e.action)).toEqual(['model.create', 'model.create']);

    await models.cancel(v2.id, actor);
    await models.delete(v2.id, actor);
    const v3 = await models.create({ project: { id: projectId } }, actor);
    expect(v3.version).toBe(3);
    expect((await models.ofProject(projectId)).map((m) => m.version)).toEqual([3, 1]);
    expect((await models.byVersion(projectId, 1))?.id).toBe(v1.id);
    expect(await models.byVersion(projectId, 2)).toBeNull();
  });

  it('returns the first version for a repeated idempotency key', async () => {
    await seed('idempotent', { train: { normal: 4 } });
    const first = await models.create({ project: { name: 'idempotent' }, idempotencyKey: 'k' }, actor);
    const again = await models.create({ project: { name: 'idempotent' }, idempotencyKey: 'k' }, actor);
    expect(again.id).toBe(first.id);
    expect((await jobs.list({ limit: 10 })).items).toHaveLength(1);
  });

  it('refuses what it can check before queueing, with codes and readable messages', async () => {
    await seed('empty', {});
    await seed('defects', { train: { anomaly: 3 } });
    await seed('tiny', { train: { normal: 1, anomaly: 1 } });
    const cases: [unknown, string, RegExp][] = [
      [{ project: { name: 'nope' } }, 'NOT_FOUND', /project 'nope'/],
      [{ project: { id: 'not-a-uuid' } }, 'NOT_FOUND', /project/],
      [{ project: {} }, 'BAD_USER_INPUT', /project id or name/],
      [{ project: { name: 'empty' } }, 'BAD_USER_INPUT', /no train dataset/],
      [{ project: { name: 'defects' } }, 'BAD_USER_INPUT', /no normal images/],
      [{ project: { name: 'tiny' } }, 'BAD_USER_INPUT', /too few images/],
      [{ project: { name: 'tiny' }, threshold: { mode: 'MISS_RATE' } }, 'BAD_USER_INPUT', /rate/],
    ];
    for (const [input, code, message] of cases) {
      const error = await rejection(models.create(input, actor));
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
    }
    expect((await jobs.list({ limit: 10 })).items).toHaveLength(0);
  });
});

describe('ModelService cancel, get and delete', () => {
  it('cancels a training once: TRAINING_FAILED with a cancelled message, then CONFLICT', async () => {
    await seed('cancel', { train: { normal: 3 } });
    const model = await models.create({ project: { name: 'cancel' } }, actor);
    const cancelled = await models.cancel(model.id, actor);
    expect(cancelled).toMatchObject({ status: ModelStatus.TrainingFailed, statusMessage: 'cancelled by alice' });
    expect((await jobs.get(model.jobId as string))?.status).toBe('cancelled');
    expect((await rejection(models.cancel(model.id, actor))).code).toBe('CONFLICT');
    expect(audit.events.map((e) => e.action)).toContain('model.cancel');
    // The job, if it still starts, does nothing.
    const summary = await trainer().train({ modelVersionId: model.id, actor }, jobContext());
    expect(summary.status).toBe(ModelStatus.TrainingFailed);
    expect(engine.trained).toBe(0);
  });

  it('answers NOT_FOUND for unknown ids', async () => {
    for (const id of ['nope', '00000000-0000-4000-8000-000000000000']) {
      expect((await rejection(models.get(id))).code).toBe('NOT_FOUND');
      expect((await rejection(models.cancel(id, actor))).code).toBe('NOT_FOUND');
      expect((await rejection(models.delete(id, actor))).code).toBe('NOT_FOUND');
    }
  });

  it('refuses to delete a training or hosted version; deletes a trained one with its artifact', async () => {
    await seed('delete', { train: { normal: 4, anomaly: 1 }, test: { normal: 2, anomaly: 2 } });
    const model = await models.create({ project: { name: 'delete' } }, actor);
    expect((await rejection(models.delete(model.id, actor))).message).toMatch(/cancel the training/);
    await trainer().train({ modelVersionId: model.id, actor }, jobContext());
    const trained = await models.get(model.id);
    expect(store.objects.has(trained.artifact?.key as string)).toBe(true);

    await handle.db.updateTable('model_versions').set({ status: 'HOSTED' }).where('id', '=', model.id).execute();
    expect((await rejection(models.delete(model.id, actor))).code).toBe('CONFLICT');
    await handle.db.updateTable('model_versions').set({ status: 'TRAINED' }).where('id', '=', model.id).execute();

    const deleted = await models.delete(model.id, actor);
    expect(deleted.status).toBe(ModelStatus.Deleting);
    expect(store.objects.has(trained.artifact?.key as string)).toBe(false);
    expect((await rejection(models.get(model.id))).code).toBe('NOT_FOUND');
    const rows = await handle.db
      .selectFrom('model_evaluations')
      .select('image_id')
      .where('model_version_id', '=', model.id)
      .execute();
    expect(rows).toHaveLength(0);
    expect(audit.events.find((e) => e.action === 'model.delete')?.before).toMatchObject({ version: 1 });
  });
});

describe('Trainer', () => {
  it('trains on the train dataset, evaluates every test image and records metrics, digest and logs', async () => {
    await seed('train', { train: { normal: 6, anomaly: 2, unlabelled: 1 }, test: { normal: 3, anomaly: 2 } });
    const model = await models.create({ project: { name: 'train' } }, actor);
    const context = jobContext();
    const summary = await trainer().train({ modelVersionId: model.id, actor }, context);
    expect(summary.status).toBe(ModelStatus.Trained);

    const trained = await models.get(model.id);
    expect(trained.status).toBe(ModelStatus.Trained);
    expect(trained.statusMessage).toBe('trained; 1 unlabelled image(s) ignored');
    expect(trained.trainedAt).not.toBeNull();
    expect(trained.datasetDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(trained.artifact).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/), bytes: 17 });
    expect(trained.engineSummary?.data).toEqual({
      trainNormal: 6,
      trainAnomaly: 2,
      testNormal: 3,
      testAnomaly: 2,
      ignoredUnlabelled: 1,
      splitFromTrain: false,
    });
    // The fake misses anomaly-0: one false negative.
    expect(trained.metrics).toMatchObject({
      truePositives: 1,
      falseNegatives: 1,
      trueNegatives: 3,
      falsePositives: 0,
      precision: 1,
      recall: 0.5,
      testImages: 5,
      threshold: 5,
      auroc: 0.75,
      pixelAuroc: null,
    });
    expect(trained.logs.some((l) => l.level === 'warn' && /unlabelled/.test(l.message))).toBe(true);
    expect(context.done[context.done.length - 1]).toBe(100);
    expect(context.steps).toEqual(expect.arrayContaining(['reading datasets', 'training: features', 'done']));

    const page = await models.evaluation(trained, { first: 10 });
    expect(page.totalCount).toBe(5);
    const wrong = await models.evaluation(trained, { onlyWrong: true });
    expect(wrong.nodes).toEqual([expect.objectContaining({ expected: 'anomaly', verdict: 'normal', correct: false })]);
    const firstTwo = await models.evaluation(trained, { first: 2 });
    const rest = await models.evaluation(trained, { first: 10, after: firstTwo.pageInfo.endCursor });
    expect([...firstTwo.nodes, ...rest.nodes].map((n) => n.imageId)).toEqual(page.nodes.map((n) => n.imageId));
    expect((await rejection(models.evaluation(trained, { after: 'garbage' }))).code).toBe('BAD_USER_INPUT');
    expect(audit.events.map((e) => e.action)).toContain('model.trained');
  });

  it('splits the train dataset in memory when there is no test dataset, with a stable digest', async () => {
    const projectId = await seed('split', { train: { normal: 10, anomaly: 5 } });
    const a = await models.create({ project: { name: 'split' } }, actor);
    await trainer().train({ modelVersionId: a.id, actor }, jobContext());
    const b = await models.create({ project: { name: 'split' } }, actor);
    await trainer().train({ modelVersionId: b.id, actor }, jobContext());
    const [first, second] = [await models.get(a.id), await models.get(b.id)];
    expect(first.engineSummary?.data).toMatchObject({ trainNormal: 8, trainAnomaly: 4, testNormal: 2, testAnomaly: 1 });
    expect(first.engineSummary?.data.splitFromTrain).toBe(true);
    expect(second.datasetDigest).toBe(first.datasetDigest);
    // The datasets themselves are untouched.
    const test = await handle.db
      .selectFrom('datasets')
      .select('id')
      .where('project_id', '=', projectId)
      .where('type', '=', 'test')
      .execute();
    expect(test).toHaveLength(0);
  });

  it('fails the version with a readable message when training fails', async () => {
    await seed('fails', { train: { normal: 3 }, test: { normal: 1 } });
    const model = await models.create({ project: { name: 'fails' } }, actor);
    const error = await rejection(
      trainer({ trainError: new VigilError('BAD_USER_INPUT', 'an image could not be decoded') }).train(
        { modelVersionId: model.id, actor },
        jobContext(),
      ),
    );
    expect(error.message).toBe('an image could not be decoded');
    const failed = await models.get(model.id);
    expect(failed).toMatchObject({
      status: ModelStatus.TrainingFailed,
      statusMessage: 'an image could not be decoded',
    });
    expect(failed.logs.some((l) => l.level === 'error')).toBe(true);

    // A retried job trains again.
    await trainer().train({ modelVersionId: model.id, actor }, jobContext());
    expect((await models.get(model.id)).status).toBe(ModelStatus.Trained);
  });

  it('fails with "too few images" when the data changed after queueing', async () => {
    await seed('shrinks', { train: { normal: 2 } });
    const model = await models.create({ project: { name: 'shrinks' } }, actor);
    await rejection(trainer().train({ modelVersionId: model.id, actor }, jobContext()));
    const failed = await models.get(model.id);
    expect(failed.status).toBe(ModelStatus.TrainingFailed);
    expect(failed.statusMessage).toMatch(/too few images/);
  });

  it('stops at a cancellation: TRAINING_FAILED, cancelled', async () => {
    await seed('aborted', { train: { normal: 4 }, test: { normal: 1 } });
    const model = await models.create({ project: { name: 'aborted' } }, actor);
    const context = jobContext();
    await rejection(trainer({ onTrain: () => context.abort() }).train({ modelVersionId: model.id, actor }, context));
    expect(await models.get(model.id)).toMatchObject({
      status: ModelStatus.TrainingFailed,
      statusMessage: 'cancelled',
    });
  });
});
