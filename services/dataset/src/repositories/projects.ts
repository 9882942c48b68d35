import type { Kysely } from 'kysely';
import { isUuid } from '@vigil/contracts';
import { keysetPage, type Database, type ProjectRow } from '@vigil/db';
import type { Cursor } from '@vigil/service-kit';

export interface ProjectRepository {
  insert(
    input: { name: string; description: string | null; createdBy: string },
    db?: Kysely<Database>,
  ): Promise<ProjectRow | undefined>;
  findById(id: string): Promise<ProjectRow | undefined>;
  findByName(name: string): Promise<ProjectRow | undefined>;
  list(limit: number, after: Cursor | null): Promise<ProjectRow[]>;
  update(
    id: string,
    patch: { name?: string; description?: string | null },
    db?: Kysely<Database>,
  ): Promise<ProjectRow | undefined>;
  delete(id: string, db?: Kysely<Database>): Promise<boolean>;
}

export class KyselyProjectRepository implements ProjectRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Undefined when the name is taken. */
  insert(
    input: { name: string; description: string | null; createdBy: string },
    db = this.db,
  ): Promise<ProjectRow | undefined> {
    return db
      .insertInto('projects')
      .values({ name: input.name, description: input.description, created_by: input.createdBy })
      .onConflict((oc) => oc.column('name').doNothing())
      .returningAll()
      .executeTakeFirst();
  }

  async findById(id: string): Promise<ProjectRow | undefined> {
    if (!isUuid(id)) return undefined;
    return this.db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByName(name: string): Promise<ProjectRow | undefined> {
    return this.db.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst();
  }

  list(limit: number, after: Cursor | null): Promise<ProjectRow[]> {
    const query = this.db.selectFrom('projects').selectAll();
    return keysetPage(query, after, limit).execute();
  }

  async update(
    id: string,
    patch: { name?: string; description?: string | null },
    db = this.db,
  ): Promise<ProjectRow | undefined> {
    if (!isUuid(id)) return undefined;
    return db
      .updateTable('projects')
      .set({ ...patch, updated_at: new Date() })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
  }

  async delete(id: string, db = this.db): Promise<boolean> {
    if (!isUuid(id)) return false;
    const result = await db.deleteFrom('projects').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
