import { describe, expect, it } from '@jest/globals';
import { errors, Role, type Principal } from '@vigil/contracts';
import type { JobRow } from '@vigil/db';
import type { AuditEvent, AuditTrail } from './audit';
import { QueuedJobs, type JobPort } from './queued-jobs';

const alice: Principal = { id: 'k1', name: 'alice', role: Role.Operator };
const ID = '11111111-1111-4111-8111-111111111111';

function row(overrides: Partial<JobRow> = {}): JobRow {
  const now = new Date('2026-01-01T00:00:00Z');
  return {
    id: ID,
    queue: 'q',
    kind: 'k',
    status: 'queued',
    payload: {},
    progress_done: 0,
    progress_total: null,
    progress_step: null,
    summary: null,
    error: null,
    attempts: 0,
    idempotency_key: null,
    created_by: 'alice',
    created_at: now,
    started_at: null,
    finished_at: null,
    updated_at: now,
    ...overrides,
  };
}

function setup(port: Partial<JobPort>) {
  const events: AuditEvent[] = [];
  const audit: AuditTrail = { record: async (event) => void events.push(event) };
  const full: JobPort = {
    submit: async (input) =>
      row({ queue: input.queue, kind: input.kind, idempotency_key: input.idempotencyKey ?? null }),
    get: async () => row(),
    cancel: async () => row({ status: 'cancelled' }),
    ...port,
  };
  const jobs = new QueuedJobs(full, audit, {
    queue: 'q',
    noun: 'test job',
    cancelAction: 'test.cancel',
    view: (r) => ({ id: r.id, status: r.status.toUpperCase() }),
  });
  return { jobs, events };
}

describe('QueuedJobs', () => {
  it('scopes idempotency keys to the caller', async () => {
    const { jobs } = setup({});
    const submitted = await jobs.submit({ kind: 'k', payload: {}, actor: { principal: alice }, idempotencyKey: 'abc' });
    expect(submitted.idempotency_key).toBe('k1:abc');
  });

  it('answers NOT_FOUND for bad ids, missing jobs and jobs of other queues', async () => {
    await expect(setup({}).jobs.get('nope')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: "test job 'nope' was not found",
    });
    await expect(setup({ get: async () => undefined }).jobs.get(ID)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      setup({
        get: async () => {
          throw errors.notFound('job', ID);
        },
      }).jobs.get(ID),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(setup({ get: async () => row({ queue: 'other' }) }).jobs.get(ID)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('does not hide an outage as NOT_FOUND', async () => {
    const { jobs } = setup({
      get: async () => {
        throw new Error('connection refused');
      },
    });
    await expect(jobs.get(ID)).rejects.toThrow('connection refused');
  });

  it('audits a cancel with both statuses in the view form', async () => {
    const { jobs, events } = setup({});
    const after = await jobs.cancel(ID, { principal: alice, requestId: 'r1' });
    expect(after.status).toBe('CANCELLED');
    expect(events).toEqual([
      expect.objectContaining({
        action: 'test.cancel',
        entityId: ID,
        before: { status: 'QUEUED' },
        after: { status: 'CANCELLED' },
        requestId: 'r1',
      }),
    ]);
  });
});
