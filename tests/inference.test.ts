/**
 * @jest-environment <rootDir>/packages/engine/testing/ort-environment.js
 */
/**
 * Hosting and detection through the public API (the gateway's GraphQL and REST) in the embedded mode: train a
 * small synthetic project, start the model, detect a stored image and an uploaded one, run a batch over the test
 * dataset, read the records with filters and pages, override a verdict, stop, and the errors (not hosted,
 * unknown ids, a batch over the queue's depth).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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

  it('detects a BMP upload too (the engine gets it as PNG)', async () => {
    const bytes = await syntheticImage({ format: 'bmp', width: 64, height: 64, seed: 9003, defect: false });
    const response = await rest(`/v1/detect?modelVersionId=${modelId}&line=L2`, { method: 'POST', body: bytes });
    const body = (await response.json()) as { inspection: { status: string; verdict: string; error: unknown } };
    expect(response.status).toBe(200);
    expect(body.inspection).toMatchObject({ status: 'DONE', error: null });
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
    expect(all).toHaveLength(testImages.length + 3);
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

  it('records the training images size and refuses another size with INVALID_IMAGE (expected and actual)', async () => {
    const model = await vigil.ok<{ modelVersion: { imageSize: { width: number; height: number } | null } }>(
      'query($id: ID!) { modelVersion(id: $id) { imageSize { width height } } }',
      { id: modelId },
    );
    expect(model.modelVersion.imageSize).toEqual({ width: 64, height: 64 });
    const small = await syntheticImage({ format: 'png', width: 48, height: 40, seed: 9100, defect: false });
    const response = await rest(`/v1/detect?modelVersionId=${modelId}`, { method: 'POST', body: small });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; details: Record<string, unknown> } };
    expect(body.error).toMatchObject({
      code: 'INVALID_IMAGE',
      details: { expected: { width: 64, height: 64 }, actual: { width: 48, height: 40 } },
    });
    const stored = await rest('/v1/images', { method: 'POST', body: small });
    const imageId = ((await stored.json()) as { image: { id: string } }).image.id;
    const result = await detect({ modelVersionId: modelId, imageId });
    expect(result.errors?.[0]?.extensions?.['code']).toBe('INVALID_IMAGE');
    const batch = await vigil.graphql<unknown>(
      'mutation($input: SubmitInspectionBatchInput!) { submitInspectionBatch(input: $input) { id } }',
      { input: { modelVersionId: modelId, imageIds: [testImages[0], imageId] } },
    );
    expect(batch.errors?.[0]?.extensions?.['code']).toBe('INVALID_IMAGE');
    expect(batch.errors?.[0]?.extensions?.['details']).toMatchObject({ count: 1, images: [{ imageId }] });
  });

  it('refuses a batch of 100,000 ids with BAD_USER_INPUT and the limit', async () => {
    const submit = (imageIds: string[]) =>
      vigil.graphql<unknown>(
        'mutation($input: SubmitInspectionBatchInput!) { submitInspectionBatch(input: $input) { id } }',
        { input: { modelVersionId: modelId, imageIds } },
      );
    // Short ids keep the request under the gateway's 1 MB body limit, so the service itself sees the count.
    const short = await submit(Array.from({ length: 100_000 }, (_, i) => String(i)));
    expect(short.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect(short.errors?.[0]?.extensions?.['details']).toMatchObject({ limit: 20_000, count: 100_000 });
  });

  it('shows the workers that have the version loaded and the desired worker count', async () => {
    const hosting = await vigil.ok<{
      modelVersion: { artifact: { sha256: string }; hosting: { workers: number; desiredWorkers: number } };
      inferenceWorkers: { pid: number; loadedArtifacts: string[] }[];
    }>(
      'query($id: ID!) { modelVersion(id: $id) { artifact { sha256 } hosting { workers desiredWorkers } } inferenceWorkers { pid loadedArtifacts } }',
      { id: modelId },
    );
    // Embedded: this one process is the only worker.
    expect(hosting.modelVersion.hosting).toEqual({ workers: 1, desiredWorkers: 1 });
    expect(hosting.inferenceWorkers).toEqual([
      { pid: process.pid, loadedArtifacts: [hosting.modelVersion.artifact.sha256] },
    ]);
    const metrics = await (await fetch(`${vigil.url}/metrics`)).text();
    expect(metrics).toContain(`vigil_inference_desired_workers{model_version_id="${modelId}"} 1`);
  });

  it('inspects newly ingested images of a line automatically once enabled, audit-logged', async () => {
    const set = await vigil.ok<{
      setAutoInspection: { enabled: boolean; line: string | null; modelVersion: { id: string } };
    }>(
      'mutation($input: SetAutoInspectionInput!) { setAutoInspection(input: $input) { enabled line modelVersion { id } } }',
      { input: { projectId, modelVersionId: modelId, enabled: true, line: 'AUTO-1' } },
    );
    expect(set.setAutoInspection).toEqual({ enabled: true, line: 'AUTO-1', modelVersion: { id: modelId } });
    const other = await syntheticImage({ format: 'png', width: 64, height: 64, seed: 9200, defect: false });
    expect((await rest('/v1/images?line=OTHER', { method: 'POST', body: other })).status).toBe(201);
    const bytes = await syntheticImage({ format: 'png', width: 64, height: 64, seed: 9201, defect: true });
    const uploaded = await rest('/v1/images?line=AUTO-1', { method: 'POST', body: bytes });
    expect(uploaded.status).toBe(201);
    const imageId = ((await uploaded.json()) as { image: { id: string } }).image.id;
    const records = await until(
      async () =>
        (
          await vigil.ok<{ inspections: { nodes: Inspection[] } }>(
            `query($p: ID!) { inspections(filter: { projectId: $p, line: "AUTO-1" }) { nodes { ${INSPECTION} } } }`,
            { p: projectId },
          )
        ).inspections.nodes,
      (nodes) => nodes.length > 0 && nodes.every((n) => n.status === 'DONE'),
    );
    expect(records).toEqual([expect.objectContaining({ imageId, requestedBy: 'auto-inspection', batchId: null })]);
    const read = await vigil.ok<{ project: { autoInspection: { enabled: boolean; line: string } } }>(
      'query($p: ID!) { project(id: $p) { autoInspection { enabled line } } }',
      { p: projectId },
    );
    expect(read.project.autoInspection).toEqual({ enabled: true, line: 'AUTO-1' });
    const audit = await vigil.ok<{ auditLog: { nodes: { action: string }[] } }>(
      '{ auditLog(first: 100) { nodes { action } } }',
    );
    expect(audit.auditLog.nodes.map((n) => n.action)).toContain('inspection.auto.set');
  });

  it('runs a batch over a folder: ingests its images first, skips what is not an image, fails a wrong size', async () => {
    const folder = path.join(work, 'line-dump');
    await mkdir(folder, { recursive: true });
    for (const seed of [901, 902, 903]) {
      await writeFile(
        path.join(folder, `part-${seed}.png`),
        await syntheticImage({ format: 'png', width: 64, height: 64, seed }),
      );
    }
    await writeFile(
      path.join(folder, 'small.png'),
      await syntheticImage({ format: 'png', width: 32, height: 32, seed: 904 }),
    );
    await writeFile(
      path.join(folder, 'broken.png'),
      (await syntheticImage({ format: 'png', seed: 905 })).subarray(0, 40),
    );
    await writeFile(path.join(folder, 'notes.txt'), 'not an image');
    const batchFields = 'id status total done failed skipped source error { code message } progress { total percent }';
    const submitted = await vigil.ok<{ submitInspectionBatch: { id: string; status: string; source: string } }>(
      `mutation($input: SubmitInspectionBatchInput!) { submitInspectionBatch(input: $input) { ${batchFields} } }`,
      { input: { modelVersionId: modelId, source: folder, metadata: { line: 'L-dump', lot: 'lot-9' } } },
    );
    expect(submitted.submitInspectionBatch).toMatchObject({ status: 'EXPANDING', source: folder });
    const finished = await until(
      async () =>
        (
          await vigil.ok<{ inspectionBatch: Record<string, unknown> }>(
            `query($id: ID!) { inspectionBatch(id: $id) { ${batchFields} } }`,
            { id: submitted.submitInspectionBatch.id },
          )
        ).inspectionBatch,
      (b) => b['status'] === 'DONE' || b['status'] === 'FAILED',
    );
    // broken.png and notes.txt are skipped; small.png is recorded, and fails for its size.
    expect(finished).toMatchObject({ status: 'DONE', total: 4, done: 3, failed: 1, skipped: 2, error: null });
    const records = await vigil.ok<{ inspections: { nodes: Inspection[] } }>(
      `query($id: ID!) { inspections(filter: { batchId: $id }, first: 10) { nodes { ${INSPECTION} } } }`,
      { id: submitted.submitInspectionBatch.id },
    );
    expect(records.inspections.nodes).toHaveLength(4);
    expect(records.inspections.nodes.every((n) => n.metadata.line === 'L-dump' && n.metadata.lot === 'lot-9')).toBe(
      true,
    );
    const failed = records.inspections.nodes.filter((n) => n.status === 'FAILED');
    expect(failed.map((n) => n.error?.code)).toEqual(['INVALID_IMAGE']);
  });

  it('fails a batch whose folder cannot be read, and refuses a source it can never read', async () => {
    const submitted = await vigil.ok<{ submitInspectionBatch: { id: string } }>(
      'mutation($input: SubmitInspectionBatchInput!) { submitInspectionBatch(input: $input) { id } }',
      { input: { modelVersionId: modelId, source: path.join(work, 'no-such-folder') } },
    );
    const failed = await until(
      async () =>
        (
          await vigil.ok<{ inspectionBatch: { status: string; total: number; error: { code: string } | null } }>(
            'query($id: ID!) { inspectionBatch(id: $id) { status total error { code } } }',
            { id: submitted.submitInspectionBatch.id },
          )
        ).inspectionBatch,
      (b) => b.status !== 'EXPANDING',
    );
    expect(failed.status).toBe('FAILED');
    expect(failed.total).toBe(0);
    expect(failed.error?.code).toMatch(/NOT_FOUND|BAD_USER_INPUT/);

    const relative = await vigil.graphql(
      'mutation($input: SubmitInspectionBatchInput!) { submitInspectionBatch(input: $input) { id } }',
      { input: { modelVersionId: modelId, source: 'relative/folder' } },
    );
    expect(relative.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    const both = await vigil.graphql(
      'mutation($input: SubmitInspectionBatchInput!) { submitInspectionBatch(input: $input) { id } }',
      { input: { modelVersionId: modelId, source: work, datasetId: testDatasetId } },
    );
    expect(both.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
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
    // The test dataset's batch (7), the automatic inspection of one uploaded image and the folder batch's 3
    // images of the right size (the wrong-size one is refused before detection).
    expect(text).toMatch(/vigil_inference_images_total\{queue="inference-batch",outcome="done"\} 11/);
    expect(text).toMatch(/vigil_inference_model_load_seconds_count 1/);
  });

  it('answers NOT_FOUND for a model of a deleted project', async () => {
    await vigil.ok('mutation($id: ID!) { deleteProject(id: $id) { id } }', { id: projectId });
    const result = await detect({ modelVersionId: modelId, imageId: testImages[0] });
    expect(result.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    const batch = await vigil.graphql<unknown>(
      'mutation($input: SubmitInspectionBatchInput!) { submitInspectionBatch(input: $input) { id } }',
      { input: { modelVersionId: modelId, imageIds: [testImages[0]] } },
    );
    expect(batch.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
  });
});
