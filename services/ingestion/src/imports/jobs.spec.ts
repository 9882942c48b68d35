import { beforeEach, describe, expect, it } from '@jest/globals';
import { ErrorCode, Role } from '@vigil/contracts';
import type { AuditEvent, AuditTrail } from '@vigil/service-kit';
import { InMemoryJobStore } from '@vigil/queue/testing';
import { ImageImportJobs, type JobPort } from './jobs';
import { decodeImportImagesPayload, IngestionJobKind, IngestionQueue } from './payloads';

const actor = { principal: { id: 'key-1', name: 'alice', role: Role.Operator }, requestId: 'req-3' };

class RecordingAudit implements AuditTrail {
  readonly events: AuditEvent[] = [];
  async record(event: AuditEvent): Promise<void> {
    this.events.push(event);
  }
}

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

let store: InMemoryJobStore;
let audit: RecordingAudit;
let jobs: ImageImportJobs;

beforeEach(() => {
  store = new InMemoryJobStore();
  audit = new RecordingAudit();
  const port: JobPort = {
    submit: async (input) => (await store.create(input)).job,
    get: async (id) => (await store.get(id)) ?? undefined,
    cancel: async (id) => (await store.cancel(id)) ?? undefined,
  };
  jobs = new ImageImportJobs(port, audit);
});

describe('ImageImportJobs.submit', () => {
  it('queues an import whose payload the worker accepts, with null metadata fields dropped', async () => {
    const view = await jobs.submit(
      {
        source: ' s3://bucket/in ',
        metadata: { line: 'L1', station: null, tags: ['a'], capturedAt: '2024-01-01T00:00:00Z' },
      },
      actor,
    );
    expect(view).toMatchObject({ kind: IngestionJobKind.ImportImages, status: 'QUEUED', source: 's3://bucket/in' });
    const row = await store.get(view.id);
    expect(row).toMatchObject({ queue: IngestionQueue.Imports, created_by: 'alice' });
    const payload = decodeImportImagesPayload(row?.payload);
    expect(payload).toEqual({
      source: 's3://bucket/in',
      metadata: { line: 'L1', tags: ['a'], capturedAt: new Date('2024-01-01T00:00:00Z') },
      actor: { principal: actor.principal, requestId: 'req-3' },
    });
    expect(audit.events).toEqual([
      expect.objectContaining({
        action: IngestionJobKind.ImportImages,
        entityType: 'job',
        entityId: view.id,
        requestId: 'req-3',
        after: expect.objectContaining({ source: 's3://bucket/in' }),
      }),
    ]);
  });

  it('queues without metadata', async () => {
    const view = await jobs.submit({ source: 's3://bucket/in' }, actor);
    expect(view.payload).toEqual({
      source: 's3://bucket/in',
      actor: { principal: actor.principal, requestId: 'req-3' },
    });
  });

  it.each([
    ['no source', {}],
    ['a blank source', { source: '   ' }],
    ['a non-string source', { source: 5 }],
    ['invalid metadata', { source: 's3://b/p', metadata: { tags: Array.from({ length: 33 }, (_, i) => `t${i}`) } }],
    ['an invalid capture date', { source: 's3://b/p', metadata: { capturedAt: 'soon' } }],
    ['an empty idempotency key', { source: 's3://b/p', idempotencyKey: '' }],
    ['not an object', 'folder'],
  ])('refuses %s with BAD_USER_INPUT and queues nothing', async (_what, input) => {
    expect((await rejection(jobs.submit(input, actor))).code).toBe(ErrorCode.BadUserInput);
    expect((await store.list({ limit: 10 })).items).toEqual([]);
    expect(audit.events).toEqual([]);
  });

  it('namespaces idempotency keys by caller', async () => {
    const first = await jobs.submit({ source: 's3://b/p', idempotencyKey: 'k' }, actor);
    expect((await jobs.submit({ source: 's3://b/p', idempotencyKey: 'k' }, actor)).id).toBe(first.id);
    const bob = { principal: { id: 'key-2', name: 'bob', role: Role.Operator } };
    expect((await jobs.submit({ source: 's3://b/p', idempotencyKey: 'k' }, bob)).id).not.toBe(first.id);
  });
});

describe('ImageImportJobs.get and cancel', () => {
  it('cancels a queued job and audits before and after alike', async () => {
    const view = await jobs.submit({ source: 's3://b/p' }, actor);
    expect((await jobs.cancel(view.id, actor)).status).toBe('CANCELLED');
    expect(audit.events.at(-1)).toMatchObject({
      action: 'ingestion.import.cancel',
      before: { status: 'QUEUED' },
      after: { status: 'CANCELLED' },
    });
  });

  it('answers NOT_FOUND for unknown, malformed and foreign job ids', async () => {
    const foreign = (await store.create({ queue: 'dataset-imports', kind: 'x', payload: {}, createdBy: 'a' })).job;
    for (const id of ['00000000-0000-4000-8000-000000000000', 'zzz', foreign.id]) {
      expect((await rejection(jobs.get(id))).code).toBe(ErrorCode.NotFound);
      expect((await rejection(jobs.cancel(id, actor))).code).toBe(ErrorCode.NotFound);
    }
    expect((await store.get(foreign.id))?.status).toBe('queued');
  });
});
