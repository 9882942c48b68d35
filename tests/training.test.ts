/**
 * @jest-environment <rootDir>/packages/engine/testing/ort-environment.js
 */
/**
 * Training through the public API (the gateway's GraphQL) in the embedded mode: import a small synthetic
 * project in the Lookout layout, train, read the metrics and the per-image evaluation, version numbering,
 * cancel, delete, audit, and the errors. Then the real cookies set when ../shared is present.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { syntheticImage } from '@vigil/images/src/testing';
import { cookiesDir } from './support/environment';
import { writeSmallProjectFolder } from './support/datasets';
import { TestPlatform } from './support/platform';

const MODEL = `id version status statusMessage description createdBy createdAt trainedAt datasetDigest jobStatus
  progress { done total step percent }
  metrics { precision recall f1 auroc pixelAuroc threshold truePositives falsePositives trueNegatives falseNegatives testImages }
  artifact { sha256 bytes }
  trainingData { trainNormal trainAnomaly testNormal testAnomaly ignoredUnlabelled splitFromTrain }
  timings { totalSeconds }
  imageSize { width height }
  logs { at level message }`;

interface Model {
  id: string;
  imageSize: { width: number; height: number } | null;
  version: number;
  status: string;
  statusMessage: string | null;
  description: string | null;
  createdBy: string;
  trainedAt: string | null;
  datasetDigest: string | null;
  jobStatus: string | null;
  progress: { done: number; total: number | null; step: string | null; percent: number | null };
  metrics: {
    precision: number;
    recall: number;
    f1: number;
    auroc: number | null;
    pixelAuroc: number | null;
    threshold: number;
    truePositives: number;
    falsePositives: number;
    trueNegatives: number;
    falseNegatives: number;
    testImages: number;
  } | null;
  artifact: { sha256: string; bytes: number } | null;
  trainingData: {
    trainNormal: number;
    trainAnomaly: number;
    testNormal: number;
    testAnomaly: number;
    ignoredUnlabelled: number;
    splitFromTrain: boolean;
  } | null;
  logs: { at: string; level: string; message: string }[];
}

const IMPORT_JOB = 'id status error { code message } summary { entriesCreated failures { item message } }';

async function importFolder(vigil: TestPlatform, input: Record<string, unknown>): Promise<void> {
  const job = await vigil.ok<{ importFolder: { id: string } }>(
    'mutation($input: ImportFolderInput!) { importFolder(input: $input) { id } }',
    { input },
  );
  const done = await vigil.waitForJob<{ status: string; error: unknown }>(
    'datasetImportJob',
    job.importFolder.id,
    IMPORT_JOB,
  );
  if (done.status !== 'SUCCEEDED') throw new Error(`import failed: ${JSON.stringify(done)}`);
}

async function createProject(vigil: TestPlatform, name: string): Promise<string> {
  const data = await vigil.ok<{ createProject: { id: string } }>(
    'mutation($name: String!) { createProject(input: { name: $name }) { id } }',
    { name },
  );
  return data.createProject.id;
}

async function waitForModel(vigil: TestPlatform, id: string, timeoutMs = 60_000): Promise<Model> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const data = await vigil.ok<{ modelVersion: Model }>(`query($id: ID!) { modelVersion(id: $id) { ${MODEL} } }`, {
      id,
    });
    if (data.modelVersion.status !== 'TRAINING') return data.modelVersion;
    if (Date.now() > deadline) throw new Error(`model ${id} still TRAINING after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function createModel(vigil: TestPlatform, input: Record<string, unknown>, key?: string) {
  return vigil.graphql<{ createModel: Model }>(
    `mutation($input: CreateModelInput!) { createModel(input: $input) { ${MODEL} } }`,
    { input },
    key,
  );
}

const inUnit = (value: number | null) => value === null || (value >= 0 && value <= 1);

describe('training through the public API (embedded)', () => {
  let vigil: TestPlatform;
  let work: string;
  let projectId: string;
  let first: Model;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'vigil-training-'));
    await writeSmallProjectFolder(path.join(work, 'widgets'), 100);
    vigil = await TestPlatform.start();
    projectId = await createProject(vigil, 'widgets');
    await importFolder(vigil, { project: { name: 'widgets' }, source: path.join(work, 'widgets') });
  });

  afterAll(async () => {
    await vigil?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('trains version 1 and keeps its metrics, artifact, dataset digest and per-image evaluation', async () => {
    const created = await createModel(vigil, {
      project: { name: 'widgets' },
      description: 'first try',
      engine: { inputSize: 128 },
    });
    expect(created.errors).toBeNull();
    const model = created.data?.createModel as Model;
    expect(model).toMatchObject({
      version: 1,
      status: 'TRAINING',
      description: 'first try',
      createdBy: expect.any(String),
    });

    first = await waitForModel(vigil, model.id);
    expect(first.statusMessage).toBe('trained');
    expect(first.status).toBe('TRAINED');
    expect(first.trainedAt).not.toBeNull();
    expect(first.jobStatus).toBe('SUCCEEDED');
    expect(first.progress.percent).toBe(100);
    expect(first.datasetDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(first.artifact?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(first.artifact?.bytes).toBeGreaterThan(0);
    // Every image of the project is 64x64: detection will require that size.
    expect(first.imageSize).toEqual({ width: 64, height: 64 });
    expect(first.trainingData).toEqual({
      trainNormal: 10,
      trainAnomaly: 2,
      testNormal: 4,
      testAnomaly: 3,
      ignoredUnlabelled: 0,
      splitFromTrain: false,
    });
    const m = first.metrics;
    expect(m).not.toBeNull();
    if (!m) return;
    for (const value of [m.precision, m.recall, m.f1, m.auroc, m.pixelAuroc]) expect(inUnit(value)).toBe(true);
    expect(m.auroc).not.toBeNull();
    expect(m.testImages).toBe(7);
    expect(m.truePositives + m.falsePositives + m.trueNegatives + m.falseNegatives).toBe(7);
    expect(first.logs.length).toBeGreaterThan(2);

    const evaluation = await vigil.ok<{
      modelVersion: {
        evaluation: {
          totalCount: number;
          nodes: {
            image: { id: string; width: number };
            expected: string;
            score: number;
            verdict: string;
            correct: boolean;
          }[];
        };
        wrong: { totalCount: number; nodes: { correct: boolean }[] };
      };
    }>(
      `query($id: ID!) { modelVersion(id: $id) {
        evaluation(first: 100) { totalCount nodes { image { id width } expected score verdict correct } }
        wrong: evaluation(onlyWrong: true) { totalCount nodes { correct } } } }`,
      { id: first.id },
    );
    const rows = evaluation.modelVersion.evaluation;
    expect(rows.totalCount).toBe(7);
    expect(rows.nodes).toHaveLength(7);
    // The Image entity resolves through the ingestion subgraph.
    expect(rows.nodes.every((n) => n.image.width === 64)).toBe(true);
    expect(rows.nodes.filter((n) => n.expected === 'ANOMALY')).toHaveLength(3);
    for (const n of rows.nodes) {
      expect(inUnit(n.score)).toBe(true);
      expect(n.correct).toBe(n.expected === n.verdict);
    }
    const wrong = evaluation.modelVersion.wrong;
    expect(wrong.totalCount).toBe(m.falsePositives + m.falseNegatives);
    expect(wrong.nodes.every((n) => !n.correct)).toBe(true);

    // Paging by one.
    const page = await vigil.ok<{
      modelVersion: { evaluation: { nodes: unknown[]; pageInfo: { hasNextPage: boolean; endCursor: string } } };
    }>(
      'query($id: ID!) { modelVersion(id: $id) { evaluation(first: 6) { nodes { score } pageInfo { hasNextPage endCursor } } } }',
      { id: first.id },
    );
    expect(page.modelVersion.evaluation.pageInfo.hasNextPage).toBe(true);
    const rest = await vigil.ok<{
      modelVersion: { evaluation: { nodes: unknown[]; pageInfo: { hasNextPage: boolean } } };
    }>(
      'query($id: ID!, $after: String) { modelVersion(id: $id) { evaluation(first: 6, after: $after) { nodes { score } pageInfo { hasNextPage } } } }',
      { id: first.id, after: page.modelVersion.evaluation.pageInfo.endCursor },
    );
    expect(rest.modelVersion.evaluation.nodes).toHaveLength(1);
    expect(rest.modelVersion.evaluation.pageInfo.hasNextPage).toBe(false);
  });

  it('numbers versions per project, cancels, deletes, and answers from the project', async () => {
    const second = await createModel(vigil, { project: { id: projectId }, idempotencyKey: 'retry-me' });
    expect(second.data?.createModel.version).toBe(2);
    const again = await createModel(vigil, { project: { id: projectId }, idempotencyKey: 'retry-me' });
    expect(again.data?.createModel.id).toBe(second.data?.createModel.id);

    const id = second.data?.createModel.id as string;
    const cancelled = await vigil.graphql<{ cancelModelTraining: { status: string; statusMessage: string } }>(
      'mutation($id: ID!) { cancelModelTraining(id: $id) { status statusMessage } }',
      { id },
    );
    // Training on 12 tiny images can finish before the cancel lands; both outcomes are well-defined.
    if (cancelled.errors) {
      expect(cancelled.errors[0]?.extensions?.code).toBe('CONFLICT');
    } else {
      expect(cancelled.data?.cancelModelTraining.status).toBe('TRAINING_FAILED');
      expect(cancelled.data?.cancelModelTraining.statusMessage).toMatch(/^cancelled/);
    }
    const settled = await waitForModel(vigil, id);
    expect(['TRAINING_FAILED', 'TRAINED']).toContain(settled.status);

    const project = await vigil.ok<{
      project: { name: string; models: { version: number; status: string }[]; model: { id: string } | null };
    }>('{ project(name: "widgets") { name models { version status } model(version: 1) { id } } }');
    expect(project.project.models.map((v) => v.version)).toEqual([2, 1]);
    expect(project.project.model?.id).toBe(first.id);

    const deleted = await vigil.ok<{ deleteModel: { id: string; status: string } }>(
      'mutation($id: ID!) { deleteModel(id: $id) { id status } }',
      { id },
    );
    expect(deleted.deleteModel.status).toBe('DELETING');
    const gone = await vigil.graphql('query($id: ID!) { modelVersion(id: $id) { id } }', { id });
    expect(gone.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const third = await createModel(vigil, { project: { name: 'widgets' } });
    expect(third.data?.createModel.version).toBe(3);
    await vigil.graphql('mutation($id: ID!) { cancelModelTraining(id: $id) { id } }', {
      id: third.data?.createModel.id,
    });
    await waitForModel(vigil, third.data?.createModel.id as string);

    const audit = await vigil.ok<{ auditLog: { nodes: { action: string }[] } }>(
      '{ auditLog(filter: { entityType: "modelVersion" }, first: 100) { nodes { action entityId } } }',
    );
    const actions = audit.auditLog.nodes.map((n) => n.action);
    expect(actions).toEqual(expect.arrayContaining(['model.create', 'model.trained', 'model.delete']));
  });

  it('refuses bad requests with codes', async () => {
    const unknown = await createModel(vigil, { project: { name: 'no-such-project' } });
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    const missing = await vigil.graphql('{ modelVersion(id: "00000000-0000-4000-8000-000000000000") { id } }');
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');

    await createProject(vigil, 'defects-only');
    const folder = path.join(work, 'defects');
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < 3; i++)
      await writeFile(
        path.join(folder, `d-${i}.png`),
        await syntheticImage({ format: 'png', width: 64, height: 64, seed: 900 + i, defect: true }),
      );
    await importFolder(vigil, { project: { name: 'defects-only' }, source: folder, label: 'ANOMALY' });
    const noNormals = await createModel(vigil, { project: { name: 'defects-only' } });
    expect(noNormals.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(noNormals.errors?.[0]?.message).toMatch(/no normal images/);

    const badRate = await createModel(vigil, { project: { name: 'widgets' }, threshold: { mode: 'MISS_RATE' } });
    expect(badRate.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

    const key = await vigil.ok<{ createApiKey: { secret: string } }>(
      'mutation { createApiKey(name: "wall display", role: VIEWER) { secret } }',
    );
    const viewer = key.createApiKey.secret;
    const forbidden = await createModel(vigil, { project: { name: 'widgets' } }, viewer);
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const read = await vigil.graphql<{ modelVersion: { version: number } }>(
      'query($id: ID!) { modelVersion(id: $id) { version } }',
      { id: first.id },
      viewer,
    );
    expect(read.data?.modelVersion.version).toBe(1);

    const operator = (
      await vigil.ok<{ createApiKey: { secret: string } }>(
        'mutation { createApiKey(name: "line lead", role: OPERATOR) { secret } }',
      )
    ).createApiKey.secret;
    const notAdmin = await vigil.graphql(
      'mutation($id: ID!) { deleteModel(id: $id) { id } }',
      { id: first.id },
      operator,
    );
    expect(notAdmin.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('training on the cookies set', () => {
  if (!cookiesDir) {
    it.skip('skipped: ../shared/datasets/cookies is absent', () => undefined);
    return;
  }
  const dir = cookiesDir;
  let vigil: TestPlatform;

  beforeAll(async () => {
    vigil = await TestPlatform.start();
  });
  afterAll(async () => {
    await vigil?.stop();
  });

  it('trains from the manifest import and separates the test images (AUROC > 0.9)', async () => {
    await createProject(vigil, 'cookies');
    const job = await vigil.ok<{ importManifest: { id: string } }>(
      'mutation($uri: String!) { importManifest(input: { project: { name: "cookies" }, datasetType: TRAIN, manifestUri: $uri }) { id } }',
      { uri: path.join(dir, 'template.manifest') },
    );
    const imported = await vigil.waitForJob<{ status: string }>('datasetImportJob', job.importManifest.id, IMPORT_JOB);
    expect(imported.status).toBe('SUCCEEDED');
    await importFolder(vigil, {
      project: { name: 'cookies' },
      source: path.join(dir, 'test-images'),
      datasetType: 'TEST',
      labelFromFileName: true,
    });
    const created = await createModel(vigil, { project: { name: 'cookies' } });
    expect(created.errors).toBeNull();
    const model = await waitForModel(vigil, created.data?.createModel.id as string, 120_000);
    expect(model.status).toBe('TRAINED');
    expect(model.metrics?.testImages).toBe(22);
    expect(model.metrics?.auroc).toBeGreaterThan(0.9);
  }, 180_000);
});
