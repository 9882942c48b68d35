import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DatabaseHandle } from '@vigil/db';
import { Role } from '@vigil/contracts';
import { ImageCatalog, KyselyImageRepository } from '@vigil/images';
import { InMemoryObjectStore, openMigratedTestDatabase, syntheticImage } from '@vigil/images/src/testing';
import { InspectionStatus, type InspectionResult, type NewInspection } from '../domain/types';
import { insertModelVersion, insertProject } from '../testing/rows';
import { KyselyInspectionRepository } from './inspections';

const result: InspectionResult = {
  verdict: 'normal',
  score: 0.1,
  rawScore: 1,
  threshold: 0.5,
  confidence: 0.9,
  heatmapKey: null,
  maskKey: null,
  anomalies: null,
  timings: { queueWaitMs: 1, decodeMs: 1, inferenceMs: 1, totalMs: 3 },
};
const at = new Date('2026-01-02T03:04:05.000Z');

// The worker's hot path: the claim that also reads the version, and the one-statement finish with its batch.
describe('KyselyInspectionRepository (claim and finish)', () => {
  let handle: DatabaseHandle;
  let repo: KyselyInspectionRepository;
  let projectId: string;
  let versionId: string;
  let imageId: string;
  let serial = 0;

  beforeAll(async () => {
    handle = await openMigratedTestDatabase();
    const db = handle.db;
    const catalog = new ImageCatalog({ images: new KyselyImageRepository(db), store: new InMemoryObjectStore() });
    const bytes = await syntheticImage({ format: 'png', width: 16, height: 8, seed: 1 });
    imageId = (await catalog.ingest({ bytes, actor: { id: 'key-1', name: 'alice', role: Role.Operator } })).image.id;
    projectId = await insertProject(db);
    versionId = await insertModelVersion(db, projectId, { version: 3, width: 16, height: 8 });
    repo = new KyselyInspectionRepository(db);
  });
  afterAll(() => handle?.close());

  const newInspection = (batchId: string | null): NewInspection => {
    serial += 1;
    return {
      projectId,
      modelVersionId: versionId,
      modelVersion: 3,
      artifactSha256: 'a'.repeat(64),
      imageId,
      batchId,
      metadata: { line: null, station: null, camera: null, lot: null, capturedAt: null },
      requestedBy: 'key-1',
      idempotencyKey: `k-${serial}`,
    };
  };
  const batchOf = async (total: number) =>
    (
      await repo.createBatch({
        projectId,
        modelVersionId: versionId,
        total,
        source: { kind: 'images', imageIds: [] },
        idempotencyKey: null,
        createdBy: 'key-1',
      })
    ).batch;
  const running = async (batchId: string | null) => {
    const { inspection } = await repo.create(newInspection(batchId));
    const claimed = await repo.markRunning(inspection.id, at);
    if (!claimed) throw new Error('not claimed');
    return claimed.inspection;
  };

  // Bug: a batch expansion killed between submitting a detection job and linking it left the inspection, done by
  // that job, without its job id (its retry skips records that are no longer QUEUED). The run links it.
  it('links the job that runs an inspection when the inspection has none, and keeps a job already linked', async () => {
    const unlinked = (await repo.create(newInspection(null))).inspection;
    const job = '0b5c3e52-6a35-4c4f-9a3e-2f0e8d1a7c11';
    expect((await repo.markRunning(unlinked.id, at, job))?.inspection.jobId).toBe(job);
    const other = 'f4f1e1a0-2b7d-4a57-8c0e-5d6b9c3a2e10';
    expect((await repo.markRunning(unlinked.id, at, other))?.inspection.jobId).toBe(job);
    expect((await repo.findById(unlinked.id))?.jobId).toBe(job);
  });

  it('claims a queued inspection and reads its version in the same call, and never a finished one', async () => {
    const { inspection } = await repo.create(newInspection(null));
    const claimed = await repo.markRunning(inspection.id, at);
    expect(claimed?.inspection).toMatchObject({ id: inspection.id, status: InspectionStatus.Running, startedAt: at });
    expect(claimed?.version).toEqual({
      id: versionId,
      projectId,
      version: 3,
      status: 'HOSTED',
      artifactKey: 'models/a',
      artifactSha256: 'a'.repeat(64),
      imageWidth: 16,
      imageHeight: 8,
    });
    // A redelivered job of a RUNNING inspection claims it again.
    expect(await repo.markRunning(inspection.id, at)).not.toBeNull();

    await handle.db
      .updateTable('model_versions')
      .set({ status: 'STOPPING_HOSTING' })
      .where('id', '=', versionId)
      .execute();
    expect((await repo.markRunning(inspection.id, at))?.version?.status).toBe('STOPPING_HOSTING');
    await handle.db.updateTable('model_versions').set({ status: 'HOSTED' }).where('id', '=', versionId).execute();

    expect(await repo.complete(inspection.id, result, at)).toMatchObject({ status: 'DONE', verdict: 'normal' });
    expect(await repo.markRunning(inspection.id, at)).toBeNull();
    expect(await repo.complete(inspection.id, result, at)).toBeNull();
    expect(await repo.fail(inspection.id, { code: 'X', message: 'x' }, at)).toBeNull();
  });

  it('counts each finished inspection on its batch once, and ends the batch DONE at its total', async () => {
    const batch = await batchOf(2);
    const first = await running(batch.id);
    const second = await running(batch.id);
    expect(await repo.finishExpansion(batch.id, at)).toMatchObject({ status: 'RUNNING' });

    expect(await repo.complete(first.id, result, at)).toMatchObject({ status: 'DONE', finishedAt: at });
    expect(await repo.complete(first.id, result, at)).toBeNull();
    expect(await repo.fail(first.id, { code: 'X', message: 'x' }, at)).toBeNull();
    expect(await repo.findBatch(batch.id)).toMatchObject({ done: 1, failed: 0, status: 'RUNNING', finishedAt: null });

    const failed = await repo.fail(second.id, { code: 'INVALID_IMAGE', message: 'bad' }, at);
    expect(failed).toMatchObject({ status: 'FAILED', error: { code: 'INVALID_IMAGE', message: 'bad' } });
    expect(await repo.findBatch(batch.id)).toMatchObject({ done: 1, failed: 1, status: 'DONE', finishedAt: at });
  });

  it('leaves an EXPANDING batch open even when its count reaches the total', async () => {
    const batch = await batchOf(1);
    const only = await running(batch.id);
    expect(await repo.complete(only.id, result, at)).toMatchObject({ status: 'DONE' });
    expect(await repo.findBatch(batch.id)).toMatchObject({ done: 1, status: 'EXPANDING', finishedAt: null });
    expect(await repo.finishExpansion(batch.id, at)).toMatchObject({ status: 'DONE', finishedAt: at });
  });

  it('finishes an inspection without a batch, touching no batch', async () => {
    const other = await batchOf(5);
    const alone = await running(null);
    expect(await repo.fail(alone.id, { code: 'CONFLICT', message: 'not hosted' }, at)).toMatchObject({
      status: 'FAILED',
      batchId: null,
    });
    expect(await repo.findBatch(other.id)).toMatchObject({ done: 0, failed: 0, status: 'EXPANDING' });
  });
});
