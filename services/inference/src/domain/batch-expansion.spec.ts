import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Role } from '@vigil/contracts';
import type { DatabaseHandle, JobRow } from '@vigil/db';
import { ImageCatalog, KyselyImageRepository } from '@vigil/images';
import { InMemoryObjectStore, openMigratedTestDatabase, syntheticImage } from '@vigil/images/src/testing';
import type { JobHandler, JobSystem } from '@vigil/service-kit';
import { KyselyHostingRepository } from '../repositories/hosting';
import { KyselyInspectionRepository } from '../repositories/inspections';
import { insertModelVersion, insertProject } from '../testing/rows';
import { BatchExpander } from './batch-expansion';

const actor = { principal: { id: 'key-1', name: 'alice', role: Role.Operator } };
const context = { progress: () => undefined, signal: new AbortController().signal };

/** Records submissions like the job table does: one job per idempotency key. Fails the n-th call when told. */
class RecordingJobs implements JobSystem {
  readonly byKey = new Map<string, JobRow>();
  calls = 0;
  constructor(private readonly failOnCall: number | null = null) {}
  async submit(input: { queue: string; kind: string; payload: unknown; createdBy: string; idempotencyKey?: string }) {
    this.calls += 1;
    if (this.calls === this.failOnCall) throw new Error('the process died here');
    const key = input.idempotencyKey ?? `job-${this.calls}`;
    const existing = this.byKey.get(key);
    if (existing) return existing;
    const job = { id: `00000000-0000-4000-8000-${String(this.byKey.size + 1).padStart(12, '0')}` } as JobRow;
    this.byKey.set(key, job);
    return job;
  }
  async get(): Promise<JobRow | undefined> {
    return undefined;
  }
  async cancel(): Promise<JobRow | undefined> {
    return undefined;
  }
  register(_queue: string, _kind: string, _handler: JobHandler): void {}
}

describe('BatchExpander', () => {
  let handle: DatabaseHandle;
  let catalog: ImageCatalog;
  let inspections: KyselyInspectionRepository;
  let hosting: KyselyHostingRepository;
  let projectId: string;
  let versionId: string;
  const images: string[] = [];

  beforeAll(async () => {
    handle = await openMigratedTestDatabase();
    const db = handle.db;
    catalog = new ImageCatalog({ images: new KyselyImageRepository(db), store: new InMemoryObjectStore() });
    for (let seed = 1; seed <= 3; seed++) {
      const bytes = await syntheticImage({ format: 'png', width: 16, height: 16, seed });
      images.push((await catalog.ingest({ bytes, actor: actor.principal })).image.id);
    }
    projectId = await insertProject(db);
    versionId = await insertModelVersion(db, projectId);
    inspections = new KyselyInspectionRepository(db);
    hosting = new KyselyHostingRepository(db);
  });
  afterAll(() => handle?.close());

  const expander = (jobs: JobSystem) =>
    new BatchExpander({
      inspections,
      hosting,
      images: catalog,
      sources: null,
      jobs,
      admit: async () => undefined,
      config: { maxBatchImages: 100, maxImageBytes: 1_000_000, allowLocalFiles: false },
    });

  it('resumes a batch whose first expansion died half way, recording and queuing each image once', async () => {
    const { batch } = await inspections.createBatch({
      projectId,
      modelVersionId: versionId,
      total: images.length,
      source: { kind: 'images', imageIds: images },
      idempotencyKey: null,
      createdBy: 'key-1',
    });
    const jobs = new RecordingJobs(2);
    await expect(expander(jobs).run({ batchId: batch.id, actor }, context)).rejects.toThrow('the process died here');
    expect((await inspections.findBatch(batch.id))?.status).toBe('EXPANDING');

    // The job system redelivers the expand-batch job.
    const retry = new RecordingJobs();
    for (const [key, job] of jobs.byKey) retry.byKey.set(key, job);
    const summary = await expander(retry).run({ batchId: batch.id, actor }, context);
    expect(summary).toMatchObject({ state: 'RUNNING', total: 3 });
    const rows = await handle.db.selectFrom('inspections').selectAll().where('batch_id', '=', batch.id).execute();
    expect(rows.map((r) => r.image_id).sort()).toEqual([...images].sort());
    expect(rows.every((r) => r.job_id !== null && r.status === 'QUEUED')).toBe(true);
    expect(retry.byKey.size).toBe(3);

    // A third delivery of a finished expansion does nothing.
    expect(await expander(retry).run({ batchId: batch.id, actor }, context)).toMatchObject({
      state: 'already expanded',
    });
    expect(retry.byKey.size).toBe(3);
  });

  it('fails a batch over a source when this service reads no sources, and says why', async () => {
    const { batch } = await inspections.createBatch({
      projectId,
      modelVersionId: versionId,
      total: 0,
      source: { kind: 'source', uri: 's3://bucket/prefix/' },
      idempotencyKey: null,
      createdBy: 'key-1',
    });
    expect(await expander(new RecordingJobs()).run({ batchId: batch.id, actor }, context)).toMatchObject({
      state: 'FAILED',
      code: 'BAD_USER_INPUT',
    });
    expect(await inspections.findBatch(batch.id)).toMatchObject({
      status: 'FAILED',
      error: { code: 'BAD_USER_INPUT' },
    });
  });

  it('keeps an EXPANDING batch open while inspections finish, and closes it when the expansion ends', async () => {
    const { batch } = await inspections.createBatch({
      projectId,
      modelVersionId: versionId,
      total: 1,
      source: { kind: 'images', imageIds: [images[0]!] },
      idempotencyKey: null,
      createdBy: 'key-1',
    });
    const [record] = await inspections.createMany([
      {
        projectId,
        modelVersionId: versionId,
        modelVersion: 1,
        artifactSha256: 'a'.repeat(64),
        imageId: images[0]!,
        batchId: batch.id,
        metadata: { line: null, station: null, camera: null, lot: null, capturedAt: null },
        requestedBy: 'key-1',
        idempotencyKey: `batch:${batch.id}:${images[0]}`,
      },
    ]);
    await inspections.fail(record!.id, { code: 'INVALID_IMAGE', message: 'x' }, new Date());
    expect(await inspections.findBatch(batch.id)).toMatchObject({ status: 'EXPANDING', failed: 1 });
    expect(await inspections.finishExpansion(batch.id, new Date())).toMatchObject({ status: 'DONE' });
  });
});
