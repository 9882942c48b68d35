import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { ErrorCode, Role } from '@vigil/contracts';
import type { DatabaseHandle } from '@vigil/db';
import type { AuditEvent, AuditTrail } from '@vigil/service-kit';
import { openMigratedTestDatabase } from '@vigil/images/src/testing';
import { InMemoryJobStore } from '@vigil/queue/testing';
import { ProjectService, type Actor, type Project, type Transactor } from '../domain/projects';
import { KyselyProjectRepository } from '../repositories/projects';
import { DatasetImportJobs, type JobPort } from './jobs';
import { DatasetJobKind, DatasetQueue } from './payloads';

const actor: Actor = { principal: { id: 'key-1', name: 'alice', role: Role.Operator }, requestId: 'req-9' };

class RecordingAudit implements AuditTrail {
  readonly events: AuditEvent[] = [];
  async record(event: AuditEvent): Promise<void> {
    this.events.push(event);
  }
}

function jobPort(store: InMemoryJobStore): JobPort {
  return {
    submit: async (input) => (await store.create(input)).job,
    get: async (id) => (await store.get(id)) ?? undefined,
    cancel: async (id) => (await store.cancel(id)) ?? undefined,
  };
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

let handle: DatabaseHandle;
let projects: ProjectService;
let project: Project;
let store: InMemoryJobStore;
let audit: RecordingAudit;
let jobs: DatasetImportJobs;

beforeAll(async () => {
  handle = await openMigratedTestDatabase();
  const tx: Transactor = { transaction: (work) => handle.db.transaction().execute(work) };
  projects = new ProjectService(new KyselyProjectRepository(handle.db), new RecordingAudit(), tx);
  project = await projects.create({ name: 'jobs' }, actor);
});
afterAll(() => handle.close());
beforeEach(() => {
  store = new InMemoryJobStore();
  audit = new RecordingAudit();
  jobs = new DatasetImportJobs(jobPort(store), projects, audit);
});

async function jobCount(): Promise<number> {
  return (await store.list({ limit: 100 })).items.length;
}

describe('DatasetImportJobs.submitManifest', () => {
  it('queues an inline manifest import and audits it without the manifest text', async () => {
    const view = await jobs.submitManifest(
      { project: { name: 'jobs' }, datasetType: 'train', manifestText: '{"source-ref":"secret-list"}' },
      actor,
    );
    expect(view).toMatchObject({ kind: DatasetJobKind.ImportManifest, status: 'QUEUED', source: 'inline manifest' });
    const row = await store.get(view.id);
    expect(row).toMatchObject({ queue: DatasetQueue.Imports, created_by: 'alice' });
    expect(row?.payload).toEqual({
      projectId: project.id,
      datasetType: 'train',
      manifestText: '{"source-ref":"secret-list"}',
      allowPartial: false,
      actor: { principal: actor.principal, requestId: 'req-9' },
    });
    expect(audit.events).toHaveLength(1);
    expect(audit.events[0]).toMatchObject({
      action: DatasetJobKind.ImportManifest,
      entityType: 'project',
      entityId: project.id,
      requestId: 'req-9',
      after: { jobId: view.id, projectId: project.id, allowPartial: false },
    });
    expect(JSON.stringify(audit.events)).not.toContain('secret-list');
  });

  it('queues a manifest by URI with its options, naming the URI as the source', async () => {
    const view = await jobs.submitManifest(
      {
        project: { id: project.id },
        datasetType: 'test',
        manifestUri: ' s3://b/m.manifest ',
        baseUri: 's3://b/',
        allowPartial: true,
      },
      actor,
    );
    expect(view.source).toBe('s3://b/m.manifest');
    expect(view.payload).toMatchObject({
      manifestUri: 's3://b/m.manifest',
      baseUri: 's3://b/',
      allowPartial: true,
      datasetType: 'test',
    });
  });

  it.each([
    ['both manifestUri and manifestText', { manifestUri: 's3://b/m', manifestText: 'x' }],
    ['neither manifestUri nor manifestText', {}],
    ['an empty manifestText', { manifestText: '' }],
    ['a blank manifestUri', { manifestUri: '   ' }],
    ['an unknown dataset type', { manifestText: 'x', datasetType: 'validation' }],
    ['a non-boolean allowPartial', { manifestText: 'x', allowPartial: 'yes' }],
    ['an over-long idempotency key', { manifestText: 'x', idempotencyKey: 'k'.repeat(201) }],
  ])('refuses %s with BAD_USER_INPUT and queues nothing', async (_what, extra) => {
    const error = await rejection(
      jobs.submitManifest({ project: { id: project.id }, datasetType: 'train', ...extra }, actor),
    );
    expect(error.code).toBe(ErrorCode.BadUserInput);
    expect(await jobCount()).toBe(0);
    expect(audit.events).toEqual([]);
  });

  it('refuses an unknown project with NOT_FOUND and queues nothing', async () => {
    for (const ref of [{ id: '00000000-0000-4000-8000-000000000000' }, { id: 'x' }, { name: 'nope' }]) {
      const error = await rejection(
        jobs.submitManifest({ project: ref, datasetType: 'train', manifestText: 'x' }, actor),
      );
      expect(error.code).toBe(ErrorCode.NotFound);
    }
    expect(
      await rejection(jobs.submitManifest({ project: {}, datasetType: 'train', manifestText: 'x' }, actor)),
    ).toMatchObject({
      code: ErrorCode.BadUserInput,
    });
    expect(await jobCount()).toBe(0);
  });

  it('returns the same job for a repeated idempotency key from the same caller', async () => {
    const input = { project: { id: project.id }, datasetType: 'train', manifestText: 'x', idempotencyKey: 'upload-1' };
    const first = await jobs.submitManifest(input, actor);
    const second = await jobs.submitManifest(input, actor);
    expect(second.id).toBe(first.id);
    const other = await jobs.submitManifest(input, { principal: { id: 'key-2', name: 'bob', role: Role.Operator } });
    expect(other.id).not.toBe(first.id);
    expect((await store.get(first.id))?.idempotency_key).toBe('key-1:upload-1');
  });
});

describe('DatasetImportJobs.submitFolder', () => {
  it('queues a folder import with only the options given', async () => {
    const view = await jobs.submitFolder(
      { project: { name: 'jobs' }, source: ' s3://b/folder ', label: 'normal', labelFromFileName: false },
      actor,
    );
    expect(view).toMatchObject({ kind: DatasetJobKind.ImportFolder, source: 's3://b/folder' });
    expect(view.payload).toEqual({
      projectId: project.id,
      source: 's3://b/folder',
      label: 'normal',
      actor: { principal: actor.principal, requestId: 'req-9' },
    });
  });

  it.each([
    ['a missing source', {}],
    ['a blank source', { source: '  ' }],
    ['an unknown label', { source: 's3://b/f', label: 'maybe' }],
    ['an unknown dataset type', { source: 's3://b/f', datasetType: 'all' }],
  ])('refuses %s with BAD_USER_INPUT', async (_what, extra) => {
    expect((await rejection(jobs.submitFolder({ project: { id: project.id }, ...extra }, actor))).code).toBe(
      ErrorCode.BadUserInput,
    );
    expect(await jobCount()).toBe(0);
  });
});

describe('DatasetImportJobs.get and cancel', () => {
  it('cancels a queued job and audits the status change', async () => {
    const view = await jobs.submitFolder({ project: { id: project.id }, source: 's3://b/f' }, actor);
    const cancelled = await jobs.cancel(view.id, actor);
    expect(cancelled.status).toBe('CANCELLED');
    expect(audit.events.at(-1)).toMatchObject({
      action: 'dataset.import.cancel',
      entityType: 'job',
      entityId: view.id,
      before: { status: 'QUEUED' },
      after: { status: 'CANCELLED' },
    });
    expect((await jobs.get(view.id)).status).toBe('CANCELLED');
  });

  it('answers NOT_FOUND for unknown ids, non-uuid ids and jobs of other queues', async () => {
    const foreign = (await store.create({ queue: 'ingestion-imports', kind: 'x', payload: {}, createdBy: 'a' })).job;
    for (const id of ['00000000-0000-4000-8000-000000000000', 'nope', foreign.id]) {
      expect((await rejection(jobs.get(id))).code).toBe(ErrorCode.NotFound);
      expect((await rejection(jobs.cancel(id, actor))).code).toBe(ErrorCode.NotFound);
    }
    expect((await store.get(foreign.id))?.status).toBe('queued');
  });
});
