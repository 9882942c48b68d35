import { errors, isUuid, type Principal } from '@vigil/contracts';
import type { Kysely } from 'kysely';
import type { Database, ProjectRow } from '@vigil/db';
import { decodeCursor, pageSize, toPage, type AuditTrail, type Cursor, type Page } from '@vigil/service-kit';
import type { ProjectRepository } from '../repositories/projects';

/** Lookout's project-name rule, kept so names migrate unchanged. */
const PROJECT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$/;

export interface Project {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly createdBy: string;
}

export function toProject(row: ProjectRow): Project {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    createdBy: row.created_by,
  };
}

/** A keyset cursor over uuid-keyed rows; a forged id is bad input, not a database error. */
export function decodeUuidCursor(after: string | null | undefined): Cursor | null {
  const cursor = decodeCursor(after);
  if (cursor && !isUuid(cursor.id)) throw errors.badInput('invalid pagination cursor', { cursor: after });
  return cursor;
}

export interface Actor {
  readonly principal: Principal;
  readonly requestId?: string;
}

export interface Transactor {
  transaction<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T>;
}

export class ProjectService {
  constructor(
    private readonly projects: ProjectRepository,
    private readonly audit: AuditTrail,
    private readonly tx: Transactor,
  ) {}

  async create(input: { name: string; description?: string | null }, actor: Actor): Promise<Project> {
    const name = input.name.trim();
    if (!PROJECT_NAME.test(name)) {
      throw errors.badInput(
        'a project name is 1-255 characters: letters, digits, - and _, starting with a letter or digit',
        { name },
      );
    }
    const description = input.description?.trim() || null;
    if (description && description.length > 2000) throw errors.badInput('a description is at most 2000 characters');
    return this.tx.transaction(async (db) => {
      const row = await this.projects.insert({ name, description, createdBy: actor.principal.name }, db);
      if (!row) throw errors.conflict(`a project named '${name}' already exists`, { name });
      const project = toProject(row);
      await this.audit.record(
        {
          actor: actor.principal,
          requestId: actor.requestId,
          action: 'project.create',
          entityType: 'project',
          entityId: row.id,
          after: project,
        },
        db,
      );
      return project;
    });
  }

  async get(id: string): Promise<Project> {
    const row = await this.projects.findById(id);
    if (!row) throw errors.notFound('project', id);
    return toProject(row);
  }

  async findById(id: string): Promise<Project | null> {
    const row = await this.projects.findById(id);
    return row ? toProject(row) : null;
  }

  async getByName(name: string): Promise<Project> {
    const row = await this.projects.findByName(name);
    if (!row) throw errors.notFound('project', name);
    return toProject(row);
  }

  /** A project by id or by name: the API accepts either, as Lookout users know projects by name. */
  async resolve(ref: { id?: string | null; name?: string | null }): Promise<Project> {
    if (ref.id) return this.get(ref.id);
    if (ref.name) return this.getByName(ref.name);
    throw errors.badInput('give a project id or name');
  }

  async list(first: number | null | undefined, after: string | null | undefined): Promise<Page<Project>> {
    const limit = pageSize(first);
    const rows = await this.projects.list(limit, decodeUuidCursor(after));
    return toPage(rows, limit, toProject);
  }

  async update(id: string, patch: { description?: string | null }, actor: Actor): Promise<Project> {
    const before = await this.get(id);
    const description = patch.description === undefined ? before.description : patch.description?.trim() || null;
    return this.tx.transaction(async (db) => {
      const row = await this.projects.update(id, { description }, db);
      if (!row) throw errors.notFound('project', id);
      const after = toProject(row);
      await this.audit.record(
        {
          actor: actor.principal,
          requestId: actor.requestId,
          action: 'project.update',
          entityType: 'project',
          entityId: id,
          before,
          after,
        },
        db,
      );
      return after;
    });
  }

  async delete(id: string, actor: Actor): Promise<Project> {
    const before = await this.get(id);
    return this.tx.transaction(async (db) => {
      if (!(await this.projects.delete(id, db))) throw errors.notFound('project', id);
      await this.audit.record(
        {
          actor: actor.principal,
          requestId: actor.requestId,
          action: 'project.delete',
          entityType: 'project',
          entityId: id,
          before,
        },
        db,
      );
      return before;
    });
  }
}
