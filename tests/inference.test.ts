/**
 * @jest-environment <rootDir>/packages/engine/testing/ort-environment.js
 */
/**
 * Hosting and detection through the public API (the gateway's GraphQL and REST) in the embedded mode: train a
 * small synthetic project, start the model, detect a stored image and an uploaded one, run a batch over the test
 * dataset, read the records with filters and pages, override a verdict, stop, and the errors (not hosted,
 * unknown ids, a batch over the queue's depth).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { syntheticImage } from '@vigil/images/src/testing';
import { writeSmallProjectFolder } from './support/datasets';
import { TestPlatform } from './support/platform';

const INSPECTION = `id status imageId projectId modelVersionNumber artifactSha256 batchId verdict effectiveVerdict
  score rawScore threshold confidence heatmapKey heatmapPath maskPath requestedBy idempotencyKey createdAt finishedAt
  metadata { line station lot } timings { queueWaitMs decodeMs inferenceMs totalMs } error { code message }
  overrides { verdict reason actorName }`;

interface Inspection {
  id: string;
  status: string;
  imageId: string;
  projectId: string;
  modelVersionNumber: number;
  artifactSha256: string;
  batchId: string | null;
  verdict: 'NORMAL' | 'ANOMALY' | null;
  effectiveVerdict: 'NORMAL' | 'ANOMALY' | null;
  score: number | null;
  rawScore: number | null;
  threshold: number | null;
  confidence: number | null;
  heatmapKey: string | null;
  heatmapPath: string | null;
  maskPath: string | null;
  requestedBy: string;
  idempotencyKey: string | null;
  metadata: { line: string | null; station: string | null; lot: string | null };
  timings: { queueWaitMs: number; decodeMs: number; inferenceMs: number; totalMs: number } | null;
  error: { code: string; message: string } | null;
  overrides: { verdict: string; reason: string; actorName: string }[];
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Small enough that a batch naming every image of the project (19) is refused, large enough for the test set (7). */
const MAX_DEPTH = 15;

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

describe('hosting and detection through the public API (embedded)', () => {
  let vigil: TestPlatform;
  let work: string;
  let projectId: string;
  let modelId: string;
  let testDatasetId: string;
  let testImages: string[];
  let allImages: string[];
  let first: Inspection;

  const modelStatus = async () =>
    (
      await vigil.ok<{ modelVersion: { status: string; hosting: { state: string; minWorkers: number } | null } }>(
        'query($id: ID!) { modelVersion(id: $id) { status hosting { state minWorkers maxWorkers } } }',
        { id: modelId },
      )
    ).modelVersion;

  const detect = (input: Record<string, unknown>) =>
    vigil.graphql<{ detectAnomalies: Inspection }>(
      `mutation($input: DetectAnomaliesInput!) { detectAnomalies(input: $input) { ${INSPECTION} } }`,
      { input },
    );

  const rest = (pathAndQuery: string, init: RequestInit = {}) =>
    fetch(`${vigil.url}${pathAndQuery}`, {
      ...init,
      headers: { authorization: `Bearer ${vigil.adminKey}`, ...(init.headers ?? {}) },
    });

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'vigil-inference-'));
    await writeSmallProjectFolder(path.join(work, 'widgets'), 500);
    vigil = await TestPlatform.start({ INFERENCE_MAX_QUEUE_DEPTH: String(MAX_DEPTH), INFERENCE_THREADS: '1' });
    projectId = (
      await vigil.ok<{ createProject: { id: string } }>('mutation { createProject(input: { name: "widgets" }) { id } }')
    ).createProject.id;
    const job = await vigil.ok<{ importFolder: { id: string } }>(
      'mutation($input: ImportFolderInput!) { importFolder(input: $input) { id } }',
      { input: { project: { name: 'widgets' }, source: path.join(work, 'widgets') } },
    );
    const imported = await vigil.waitForJob<{ status: string }>('datasetImportJob', job.importFolder.id, 'status');
    if (imported.status !== 'SUCCEEDED') throw new Error('import failed');
    const datasets = await vigil.ok<{
      project: { datasets: { id: string; type: string; entries: { nodes: { image: { id: string } }[] } }[] };
    }>('query($id: ID!) { project(id: $id) { datasets { id type entries(first: 100) { nodes { image { id } } } } } }', {
      id: projectId,
    });
    const test = datasets.project.datasets.find((d) => d.type === 'TEST');
    if (!test) throw new Error('no test dataset');
    testDatasetId = test.id;
    testImages = test.entries.nodes.map((n) => n.image.id);
    allImages = datasets.project.datasets.flatMap((d) => d.entries.nodes.map((n) => n.image.id));
    const created = await vigil.ok<{ createModel: { id: string } }>(
      'mutation { createModel(input: { project: { name: "widgets" }, engine: { inputSize: 128 } }) { id } }',
    );
    modelId = created.createModel.id;
    const trained = await until(modelStatus, (m) => m.status !== 'TRAINING', 90_000);
    if (trained.status !== 'TRAINED') throw new Error(`training ended ${trained.status}`);
  }, 120_000);

  afterAll(async () => {
    await vigil?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('refuses to detect with a version that is not hosted yet', async () => {
    const result = await detect({ modelVersionId: modelId, imageId: testImages[0] });
    expect(result.errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
    expect(result.errors?.[0]?.message).toMatch(/model version 1 is not hosted/);
  });

  it('starts the model: STARTING_HOSTING, then HOSTED once a worker has loaded it', async () => {
    const started = await vigil.ok<{
      startModel: { status: string; hosting: { minWorkers: number; maxWorkers: number } };
    }>(
      'mutation($id: ID!) { startModel(modelVersionId: $id, minWorkers: 1, maxWorkers: 2) { status hosting { minWorkers maxWorkers } } }',
      { id: modelId },
    );
    expect(['STARTING_HOSTING', 'HOSTED']).toContain(started.startModel.status);
    expect(started.startModel.hosting).toEqual({ minWorkers: 1, maxWorkers: 2 });
    const hosted = await until(modelStatus, (m) => m.status !== 'STARTING_HOSTING');
    expect(hosted).toMatchObject({ status: 'HOSTED', hosting: { state: 'HOSTED', minWorkers: 1 } });
  });

  it('detects a stored image synchronously and keeps the record, with a heat map PNG', async () => {
    const result = await detect({
      modelVersionId: modelId,
      imageId: testImages[0],
      metadata: { line: 'L1', station: 'S1', lot: 'LOT-7' },
      idempotencyKey: 'camera-1-part-1',
    });
    expect(result.errors).toBeNull();
    first = result.data?.detectAnomalies as Inspection;
    expect(first).toMatchObject({
      status: 'DONE',
      imageId: testImages[0],
      projectId,
      modelVersionNumber: 1,
      metadata: { line: 'L1', station: 'S1', lot: 'LOT-7' },
      idempotencyKey: 'camera-1-part-1',
      error: null,
    });
    expect(['NORMAL', 'ANOMALY']).toContain(first.verdict);
    expect(first.effectiveVerdict).toBe(first.verdict);
    expect(first.confidence).toBeGreaterThanOrEqual(0);
    expect(first.confidence).toBeLessThanOrEqual(1);
    expect(first.score).toBeGreaterThanOrEqual(0);
    expect(first.score).toBeLessThanOrEqual(1);
    expect(first.verdict === 'ANOMALY').toBe((first.rawScore ?? 0) >= (first.threshold ?? 0));
    expect(first.artifactSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(first.timings?.totalMs).toBeGreaterThanOrEqual(first.timings?.inferenceMs ?? 0);
    expect(first.heatmapPath).toBe(`/v1/inspections/${first.id}/heatmap`);
    const heatmap = await rest(first.heatmapPath as string);
    expect(heatmap.status).toBe(200);
    expect(heatmap.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await heatmap.arrayBuffer()).subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect((await fetch(`${vigil.url}${first.heatmapPath}`)).status).toBe(401);
  });

  it('returns the first inspection for a repeated idempotency key', async () => {
    const again = await detect({ modelVersionId: modelId, imageId: testImages[1], idempotencyKey: 'camera-1-part-1' });
    expect(again.data?.detectAnomalies.id).toBe(first.id);
    expect(again.data?.detectAnomalies.imageId).toBe(testImages[0]);
  });

  it('uploads and detects in one call with POST /v1/detect', async () => {
    const bytes = await syntheticImage({ format: 'png', width: 64, height: 64, seed: 9001, defect: true });
    const response = await rest(`/v1/detect?modelVersionId=${modelId}&line=L2&station=S9`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      inspection: { id: string; status: string; verdict: string; imageId: string; metadata: { line: string } };
    };
    expect(body.inspection).toMatchObject({ status: 'DONE', metadata: { line: 'L2' } });
    expect(['normal', 'anomaly']).toContain(body.inspection.verdict);
    const record = await vigil.ok<{ inspection: Inspection }>(
      `query($id: ID!) { inspection(id: $id) { ${INSPECTION} } }`,
      {
        id: body.inspection.id,
      },
    );
    expect(record.inspection.metadata).toMatchObject({ line: 'L2', station: 'S9' });
  });

  it('runs a batch over the test dataset, one record per image', async () => {
    const submitted = await vigil.ok<{ submitInspectionBatch: { id: string; total: number; status: string } }>(
      'mutation($input: SubmitInspectionBatchInput!) { submitInspectionBatch(input: $input) { id total status } }',
      { input: { modelVersionId: modelId, datasetId: testDatasetId, idempotencyKey: 'nightly-1' } },
    );
    expect(submitted.submitInspectionBatch.total).toBe(testImages.length);
    const batchId = submitted.submitInspectionBatch.id;
    const finished = await until(
      async () =>
        (
          await vigil.ok<{
            inspectionBatch: { status: string; done: number; failed: number; progress: { percent: number } };
          }>('query($id: ID!) { inspectionBatch(id: $id) { status done failed progress { percent } } }', {
            id: batchId,
          })
        ).inspectionBatch,
      (b) => b.status === 'DONE',
    );
    expect(finished).toMatchObject({ done: testImages.length, failed: 0, progress: { percent: 100 } });
    const records = await vigil.ok<{ inspections: { nodes: Inspection[] } }>(
      `query($id: ID!) { inspections(filter: { batchId: $id }, first: 100) { nodes { ${INSPECTION} } } }`,
      { id: batchId },
    );
    expect(records.inspections.nodes.map((n) => n.imageId).sort()).toEqual([...testImages].sort());
    expect(records.inspections.nodes.every((n) => n.status === 'DONE' && n.batchId === batchId)).toBe(true);
    // The same key again is the same batch, not a second one.
    const again = await vigil.ok<{ submitInspectionBatch: { id: string } }>(
      'mutation($input: SubmitInspectionBatchInput!) { submitInspectionBatch(input: $input) { id } }',
      { input: { modelVersionId: modelId, datasetId: testDatasetId, idempotencyKey: 'nightly-1' } },
    );
    expect(again.submitInspectionBatch.id).toBe(batchId);
  });

  it('filters and pages the records', async () => {
    const byLine = await vigil.ok<{ inspections: { nodes: Inspection[] } }>(
      `{ inspections(filter: { line: "L1", lot: "LOT-7" }) { nodes { id } } }`,
    );
    expect(byLine.inspections.nodes.map((n) => n.id)).toEqual([first.id]);
    const all: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: { inspections: { nodes: { id: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } =
        await vigil.ok(
          'query($p: ID!, $after: String) { inspections(filter: { projectId: $p }, first: 3, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }',
          { p: projectId, after },
        );
      all.push(...page.inspections.nodes.map((n) => n.id));
      if (!page.inspections.pageInfo.hasNextPage) break;
      after = page.inspections.pageInfo.endCursor;
    }
    expect(all).toHaveLength(testImages.length + 2);
    expect(new Set(all).size).toBe(all.length);
    const anomalies = await vigil.ok<{ inspections: { nodes: Inspection[] } }>(
      'query($p: ID!) { inspections(filter: { projectId: $p, verdict: ANOMALY }, first: 100) { nodes { verdict } } }',
      { p: projectId },
    );
    expect(anomalies.inspections.nodes.every((n) => n.verdict === 'ANOMALY')).toBe(true);
    const future = await vigil.ok<{ inspections: { nodes: Inspection[] } }>(
      `{ inspections(filter: { since: "2999-01-01T00:00:00Z" }) { nodes { id } } }`,
    );
    expect(future.inspections.nodes).toEqual([]);
    const recent = await vigil.ok<{ project: { recentInspections: { id: string }[] } }>(
      'query($p: ID!) { project(id: $p) { recentInspections(first: 2) { id } } }',
      { p: projectId },
    );
    expect(recent.project.recentInspections).toHaveLength(2);
  });

  it('overrides a verdict with a reason and keeps the original', async () => {
    const flipped = first.verdict === 'ANOMALY' ? 'NORMAL' : 'ANOMALY';
    const result = await vigil.ok<{ overrideInspection: Inspection }>(
      `mutation($id: ID!, $v: Verdict!) { overrideInspection(id: $id, verdict: $v, reason: "checked by hand") { ${INSPECTION} } }`,
      { id: first.id, v: flipped },
    );
    expect(result.overrideInspection.verdict).toBe(first.verdict);
    expect(result.overrideInspection.effectiveVerdict).toBe(flipped);
    expect(result.overrideInspection.overrides).toEqual([
      { verdict: flipped, reason: 'checked by hand', actorName: expect.any(String) },
    ]);
    const audit = await vigil.ok<{ auditLog: { nodes: { action: string }[] } }>(
      '{ auditLog(first: 100) { nodes { action } } }',
    );
    const actions = audit.auditLog.nodes.map((n) => n.action);
    expect(actions).toEqual(
      expect.arrayContaining(['model.start', 'inspection.detect', 'inspection.batch', 'inspection.override']),
    );
  });

  it('refuses work over the queue depth with RESOURCE_EXHAUSTED and a retry-after', async () => {
    expect(allImages.length).toBeGreaterThan(MAX_DEPTH);
    const result = await vigil.graphql<unknown>(
      'mutation($input: SubmitInspectionBatchInput!) { submitInspectionBatch(input: $input) { id } }',
      { input: { modelVersionId: modelId, imageIds: allImages } },
    );
    expect(result.errors?.[0]?.extensions?.['code']).toBe('RESOURCE_EXHAUSTED');
    expect(result.errors?.[0]?.extensions?.['details']).toMatchObject({ retryAfterSeconds: expect.any(Number) });
  });

  it('answers unknown ids with NOT_FOUND', async () => {
    const image = await detect({ modelVersionId: modelId, imageId: 'f'.repeat(64) });
    expect(image.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    const model = await detect({ modelVersionId: '00000000-0000-4000-8000-000000000000', imageId: testImages[0] });
    expect(model.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
  });

  it('stops the model; detection is then refused with CONFLICT', async () => {
    const stopped = await vigil.ok<{ stopModel: { status: string; hosting: { state: string } } }>(
      'mutation($id: ID!) { stopModel(modelVersionId: $id) { status hosting { state } } }',
      { id: modelId },
    );
    expect(stopped.stopModel).toEqual({ status: 'TRAINED', hosting: { state: 'STOPPED' } });
    const result = await detect({ modelVersionId: modelId, imageId: testImages[1] });
    expect(result.errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
    const response = await rest(`/v1/detect?modelVersionId=${modelId}`, {
      method: 'POST',
      body: await syntheticImage({ format: 'png', width: 64, height: 64, seed: 9002, defect: false }),
    });
    expect(response.status).toBe(409);
  });

  it('exposes Prometheus metrics on the gateway', async () => {
    const response = await fetch(`${vigil.url}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/vigil_inference_queue_depth\{queue="inference-interactive"\} 0/);
    expect(text).toMatch(/vigil_inference_images_total\{queue="inference-batch",outcome="done"\} 7/);
    expect(text).toMatch(/vigil_inference_model_load_seconds_count 1/);
  });
});
