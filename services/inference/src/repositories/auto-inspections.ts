import type { Kysely } from 'kysely';
import type { AutoInspectionRow, Database } from '@vigil/db';
import type { AutoInspectionRepository, AutoInspectionSetting } from '../domain/auto-inspection';

function toSetting(row: AutoInspectionRow): AutoInspectionSetting {
  return {
    projectId: row.project_id,
    modelVersionId: row.model_version_id,
    enabled: row.enabled,
    match: { line: row.line, station: row.station, camera: row.camera },
    updatedBy: row.updated_by,
    updatedAt: row.updated_at,
  };
}

/** auto_inspections is this service's table; projects (the dataset service's) is only read. */
export class KyselyAutoInspectionRepository implements AutoInspectionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async projectExists(id: string): Promise<boolean> {
    return !!(await this.db.selectFrom('projects').select('id').where('id', '=', id).executeTakeFirst());
  }

  async find(projectId: string): Promise<AutoInspectionSetting | null> {
    const row = await this.db
      .selectFrom('auto_inspections')
      .selectAll()
      .where('project_id', '=', projectId)
      .executeTakeFirst();
    return row ? toSetting(row) : null;
  }

  async listEnabled(): Promise<AutoInspectionSetting[]> {
    const rows = await this.db
      .selectFrom('auto_inspections')
      .selectAll()
      .where('enabled', '=', true)
      .orderBy('project_id')
      .execute();
    return rows.map(toSetting);
  }

  async save(setting: Omit<AutoInspectionSetting, 'updatedAt'>): Promise<AutoInspectionSetting> {
    const values = {
      project_id: setting.projectId,
      model_version_id: setting.modelVersionId,
      enabled: setting.enabled,
      line: setting.match.line,
      station: setting.match.station,
      camera: setting.match.camera,
      updated_by: setting.updatedBy,
      updated_at: new Date(),
    };
    const { project_id: _key, ...changes } = values;
    const row = await this.db
      .insertInto('auto_inspections')
      .values(values)
      .onConflict((oc) => oc.column('project_id').doUpdateSet(changes))
      .returningAll()
      .executeTakeFirstOrThrow();
    return toSetting(row);
  }
}
