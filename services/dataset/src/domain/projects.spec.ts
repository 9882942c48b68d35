import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { ErrorCode, Role } from '@vigil/contracts';
import type { DatabaseHandle } from '@vigil/db';
import { KyselyAuditTrail } from '@vigil/service-kit';
import { openMigratedTestDatabase } from '@vigil/images/src/testing';
import { KyselyProjectRepository } from '../repositories/projects';
import { ProjectService, type Actor, type Transactor } from './projects';

const actor: Actor = { principal: { id: 'key-1', name: 'alice', role: Role.Operator }, requestId: 'req-1' };
const UNKNOWN_UUID = '00000000-0000-4000-8000-000000000000';

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string; details?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

let handle: DatabaseHandle;
let projects: ProjectService;

beforeAll(async () => {
  handle = await openMigratedTestDatabase();
  const tx: Transactor = { transaction: (work) => handle.db.transaction().execute(work) };
  projects = new ProjectService(new KyselyProjectRepository(handle.db), new KyselyAuditTrail(handle.db), tx);
});
afterAll(() => handle.close());
beforeEach(async () => {
  await handle.db.deleteFrom('projects').execute();
});

function auditOf(entityId: string) {
  return handle.db.selectFrom('audit_log').selectAll().where('entity_id', '=', entityId).orderBy('id').execute();
}

describe('ProjectService.create', () => {
  it('creates a project with a trimmed name and description, audited in the same transaction', async () => {
    const project = await projects.create({ name: ' cookies ', description: '  crack detection ' }, actor);
    expect(project).toMatchObject({ name: 'cookies', description: 'crack detection', createdBy: 'alice' });
    const audit = await auditOf(project.id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ action: 'project.create', actor_id: 'key-1', request_id: 'req-1' });
    expect(audit[0]?.after).toMatchObject({ id: project.id, name: 'cookies' });
  });

  it('stores a blank description as null', async () => {
    expect((await projects.create({ name: 'p', description: '   ' }, actor)).description).toBeNull();
  });

  it('answers CONFLICT for a duplicate name and writes no audit row for it', async () => {
    await projects.create({ name: 'dup' }, actor);
    const before = await handle.db.selectFrom('audit_log').select('id').execute();
    const error = await rejection(projects.create({ name: 'dup' }, actor));
    expect(error).toMatchObject({ code: ErrorCode.Conflict, details: { name: 'dup' } });
    expect(await handle.db.selectFrom('audit_log').select('id').execute()).toHaveLength(before.length);
  });

  it.each([
    ['empty', ''],
    ['starting with a dash', '-cookies'],
    ['with a space', 'my project'],
    ['with a slash', 'a/b'],
    ['over 255 characters', 'a'.repeat(256)],
  ])('refuses a name %s', async (_what, name) => {
    expect((await rejection(projects.create({ name }, actor))).code).toBe(ErrorCode.BadUserInput);
  });

  it('accepts Lookout-style names up to 255 characters', async () => {
    for (const name of ['a', 'Cookies_2024-v1', 'x'.repeat(255)]) {
      expect((await projects.create({ name }, actor)).name).toBe(name);
    }
  });

  it('refuses a description over 2000 characters', async () => {
    expect((await rejection(projects.create({ name: 'p', description: 'd'.repeat(2001) }, actor))).code).toBe(
      ErrorCode.BadUserInput,
    );
  });
});

describe('ProjectService lookups', () => {
  it('gets by id and by name, and resolves either', async () => {
    const project = await projects.create({ name: 'lookup' }, actor);
    expect(await projects.get(project.id)).toEqual(project);
    expect(await projects.getByName('lookup')).toEqual(project);
    expect(await projects.resolve({ id: project.id })).toEqual(project);
    expect(await projects.resolve({ name: 'lookup' })).toEqual(project);
    expect(await projects.findById(UNKNOWN_UUID)).toBeNull();
  });

  it.each([
    ['an unknown uuid', UNKNOWN_UUID],
    ['a non-uuid id', 'not-a-uuid'],
  ])('answers NOT_FOUND for %s', async (_what, id) => {
    expect((await rejection(projects.get(id))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(projects.update(id, { description: 'x' }, actor))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(projects.delete(id, actor))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(projects.resolve({ id }))).code).toBe(ErrorCode.NotFound);
  });

  it('answers NOT_FOUND for an unknown name and BAD_USER_INPUT for an empty reference', async () => {
    expect((await rejection(projects.getByName('nope'))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(projects.resolve({}))).code).toBe(ErrorCode.BadUserInput);
  });
});

describe('ProjectService.update and delete', () => {
  it('updates the description with before/after in the audit row', async () => {
    const project = await projects.create({ name: 'upd', description: 'old' }, actor);
    const updated = await projects.update(project.id, { description: ' new ' }, actor);
    expect(updated.description).toBe('new');
    expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(project.updatedAt.getTime());
    const audit = await auditOf(project.id);
    expect(audit.map((a) => a.action)).toEqual(['project.create', 'project.update']);
    expect(audit[1]?.before).toMatchObject({ description: 'old' });
    expect(audit[1]?.after).toMatchObject({ description: 'new' });
  });

  it('keeps the description when the patch leaves it out, and clears it with null', async () => {
    const project = await projects.create({ name: 'keep', description: 'kept' }, actor);
    expect((await projects.update(project.id, {}, actor)).description).toBe('kept');
    expect((await projects.update(project.id, { description: null }, actor)).description).toBeNull();
  });

  it('deletes a project and its datasets, audited', async () => {
    const project = await projects.create({ name: 'gone' }, actor);
    await handle.db.insertInto('datasets').values({ project_id: project.id, type: 'train' }).execute();
    expect(await projects.delete(project.id, actor)).toEqual(project);
    expect((await rejection(projects.get(project.id))).code).toBe(ErrorCode.NotFound);
    expect(await handle.db.selectFrom('datasets').selectAll().where('project_id', '=', project.id).execute()).toEqual(
      [],
    );
    expect((await auditOf(project.id)).map((a) => a.action)).toEqual(['project.create', 'project.delete']);
  });
});

describe('ProjectService.list', () => {
  it('pages through every project once, in (createdAt, id) order', async () => {
    for (const name of ['p1', 'p2', 'p3', 'p4', 'p5']) await projects.create({ name }, actor);
    const all = (await projects.list(10, null)).nodes.map((p) => p.name);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 5; page++) {
      const result: Awaited<ReturnType<ProjectService['list']>> = await projects.list(2, after);
      seen.push(...result.nodes.map((p) => p.name));
      after = result.pageInfo.endCursor;
      if (!result.pageInfo.hasNextPage) break;
    }
    expect(seen).toEqual(all);
    expect([...seen].sort()).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
  });

  it('refuses a bad cursor and a bad page size with BAD_USER_INPUT', async () => {
    expect((await rejection(projects.list(2, 'garbage'))).code).toBe(ErrorCode.BadUserInput);
    expect((await rejection(projects.list(0, null))).code).toBe(ErrorCode.BadUserInput);
  });

  it('refuses a well-formed cursor whose id is not a project id with BAD_USER_INPUT, not a database error', async () => {
    const forged = Buffer.from(JSON.stringify({ t: new Date().toISOString(), id: 'nope' })).toString('base64url');
    expect((await rejection(projects.list(2, forged))).code).toBe(ErrorCode.BadUserInput);
  });
});
