import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pino from 'pino';
import { errors, Role, type Principal } from '@vigil/contracts';
import { InProcessTransport, JobRunner } from '@vigil/queue';
import { InMemoryJobStore, waitForJobStatus } from '@vigil/queue/testing';
import { createSubgraphServer, type AuditEvent, type RequestContext, type SubgraphServer } from '@vigil/service-kit';
import { DeadLetterService } from './dead-letters';
import { operationsSubgraph } from './subgraph';

const log = pino({ level: 'silent' });
const principal = (role: Role): Principal => ({ id: `key-${role}`, name: `${role} key`, role });
const context = (role: Role): RequestContext => ({ principal: principal(role), requestId: `req-${role}`, log });

interface GraphQLResult {
  data?: Record<string, unknown> | null;
  errors?: readonly { message: string; extensions?: Record<string, unknown> }[];
}

describe('operations subgraph: dead letters', () => {
  const store = new InMemoryJobStore();
  const runner = new JobRunner({
    store,
    transport: new InProcessTransport(),
    maxAttempts: 2,
    backoff: { baseMs: 1, maxMs: 2 },
    cancelPollIntervalMs: 0,
    reconcileIntervalMs: 0,
  });
  const audited: AuditEvent[] = [];
  let server: SubgraphServer;
  let healed = false;
  const failedIds: string[] = [];

  async function run(role: Role, query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResult> {
    const response = await server.apollo.executeOperation({ query, variables }, { contextValue: context(role) });
    if (response.body.kind !== 'single') throw new Error('expected a single result');
    return response.body.singleResult as GraphQLResult;
  }

  beforeAll(async () => {
    runner.register('imports', 'import', async (payload: { n: number }) => {
      if (payload.n === 0) throw errors.badInput('the manifest is not JSON');
      if (!healed) throw new Error('S3 is down');
      return { n: payload.n };
    });
    await runner.start();
    for (let n = 0; n < 3; n += 1) {
      const job = await runner.submit({ queue: 'imports', kind: 'import', payload: { n }, createdBy: 'key-op' });
      await waitForJobStatus(store, job.id, ['failed']);
      failedIds.push(job.id);
    }
    await runner.submit({ queue: 'other', kind: 'import', payload: { n: 9 }, createdBy: 'key-op' });
    const service = new DeadLetterService(runner, { record: async (event) => void audited.push(event) });
    server = await createSubgraphServer(operationsSubgraph({ deadLetters: service }), {
      gatewaySecret: 'x'.repeat(32),
      log,
    });
  });

  afterAll(async () => {
    await server?.apollo.stop();
    await runner.close({ timeoutMs: 100 });
  });

  const LIST = `query List($first: Int, $after: String, $filter: DeadLetterFilter) {
    deadLetters(first: $first, after: $after, filter: $filter) {
      nodes { id queue kind status attempts payload createdBy createdAt finishedAt error { code message retryable attempt } }
      pageInfo { hasNextPage endCursor }
    }
  }`;

  it('lists dead letters newest first with cursor pagination, for admins only', async () => {
    const first = await run(Role.Admin, LIST, { first: 2 });
    expect(first.errors).toBeUndefined();
    const page = first.data?.['deadLetters'] as {
      nodes: { id: string; status: string; attempts: number; payload: unknown; error: { code: string } }[];
      pageInfo: { hasNextPage: boolean; endCursor: string };
    };
    expect(page.nodes.map((node) => node.id)).toEqual([failedIds[2], failedIds[1]]);
    expect(page.nodes[0]).toMatchObject({
      status: 'FAILED',
      attempts: 2,
      payload: { n: 2 },
      error: { code: 'INTERNAL', retryable: false, attempt: 2 },
    });
    expect(page.pageInfo.hasNextPage).toBe(true);
    const second = await run(Role.Admin, LIST, { first: 2, after: page.pageInfo.endCursor });
    const rest = second.data?.['deadLetters'] as { nodes: { id: string; error: unknown }[]; pageInfo: unknown };
    expect(rest.nodes).toEqual([
      expect.objectContaining({
        id: failedIds[0],
        error: { code: 'BAD_USER_INPUT', message: 'the manifest is not JSON', retryable: false, attempt: 1 },
      }),
    ]);
    expect(rest.pageInfo).toEqual({ hasNextPage: false, endCursor: null });
    const filtered = await run(Role.Admin, LIST, { filter: { queue: 'other' } });
    expect((filtered.data?.['deadLetters'] as { nodes: unknown[] }).nodes).toEqual([]);

    for (const role of [Role.Viewer, Role.Operator]) {
      const refused = await run(role, LIST);
      expect(refused.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    }
  });

  it('replays a dead letter: a new attempt, audit-logged with who replayed it', async () => {
    const REPLAY = `mutation Replay($id: ID!) { replayDeadLetter(id: $id) { id status attempts } }`;
    const target = failedIds[1] ?? '';
    for (const role of [Role.Viewer, Role.Operator]) {
      const refused = await run(role, REPLAY, { id: target });
      expect(refused.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
    }
    expect((await store.get(target))?.status).toBe('failed');

    healed = true;
    const replayed = await run(Role.Admin, REPLAY, { id: target });
    expect(replayed.errors).toBeUndefined();
    expect(replayed.data?.['replayDeadLetter']).toEqual({ id: target, status: 'QUEUED', attempts: 0 });
    expect(await waitForJobStatus(store, target, ['succeeded', 'failed'])).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      summary: { n: 1 },
    });
    expect(audited).toEqual([
      expect.objectContaining({
        actor: principal(Role.Admin),
        action: 'job.replay',
        entityType: 'job',
        entityId: target,
        requestId: 'req-admin',
        before: expect.objectContaining({ status: 'FAILED', error: expect.objectContaining({ code: 'INTERNAL' }) }),
        after: { status: 'QUEUED', queue: 'imports', kind: 'import' },
      }),
    ]);

    const again = await run(Role.Admin, REPLAY, { id: target });
    expect(again.errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
    const missing = await run(Role.Admin, REPLAY, { id: '00000000-0000-4000-8000-000000000000' });
    expect(missing.errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
    expect(audited).toHaveLength(1);
  });
});
