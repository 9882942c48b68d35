import { sql, type Kysely } from 'kysely';
import type { Database, InspectionBatchRow, InspectionOverrideRow, InspectionRow, InspectionUpdate } from '@vigil/db';
import type { Cursor } from '@vigil/service-kit';
import {
  InspectionStatus,
  type BatchSource,
  type BatchStatus,
  type Inspection,
  type InspectionBatch,
  type InspectionFilter,
  type InspectionOverride,
  type InspectionRepository,
  type InspectionResult,
  type NewInspection,
  type RunningInspection,
  type Verdict,
} from '../domain/types';
import { toHostableVersion } from './hosting';

const INSERT_CHUNK = 500;

export function toInspection(row: InspectionRow): Inspection {
  return {
    id: row.id,
    projectId: row.project_id,
    modelVersionId: row.model_version_id,
    modelVersion: row.model_version,
    artifactSha256: row.artifact_sha256,
    imageId: row.image_id,
    batchId: row.batch_id,
    status: row.status as InspectionStatus,
    verdict: row.verdict as Verdict | null,
    score: row.score,
    rawScore: row.raw_score,
    threshold: row.threshold,
    confidence: row.confidence,
    heatmapKey: row.heatmap_key,
    maskKey: row.mask_key,
    anomalies: row.anomalies as Inspection['anomalies'],
    metadata: {
      line: row.line,
      station: row.station,
      camera: row.camera,
      lot: row.lot,
      capturedAt: row.captured_at,
    },
    timings: row.timings as Inspection['timings'],
    requestedBy: row.requested_by,
    idempotencyKey: row.idempotency_key,
    jobId: row.job_id,
    error: row.error as Inspection['error'],
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

function toBatch(row: InspectionBatchRow): InspectionBatch {
  return {
    id: row.id,
    projectId: row.project_id,
    modelVersionId: row.model_version_id,
    total: row.total,
    done: row.done,
    failed: row.failed,
    skipped: row.skipped,
    status: row.status as BatchStatus,
    source: (row.source ?? { kind: 'images', imageIds: [] }) as BatchSource,
    error: row.error,
    idempotencyKey: row.idempotency_key,
    createdBy: row.created_by,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

function toOverride(row: InspectionOverrideRow): InspectionOverride {
  return {
    id: row.id,
    inspectionId: row.inspection_id,
    verdict: row.verdict as Verdict,
    reason: row.reason,
    actorId: row.actor_id,
    actorName: row.actor_name,
    at: row.at,
  };
}

function values(input: NewInspection) {
  return {
    project_id: input.projectId,
    model_version_id: input.modelVersionId,
    model_version: input.modelVersion,
    artifact_sha256: input.artifactSha256,
    image_id: input.imageId,
    batch_id: input.batchId,
    status: InspectionStatus.Queued,
    line: input.metadata.line,
    station: input.metadata.station,
    camera: input.metadata.camera,
    lot: input.metadata.lot,
    captured_at: input.metadata.capturedAt,
    requested_by: input.requestedBy,
    idempotency_key: input.idempotencyKey,
  };
}

export class KyselyInspectionRepository implements InspectionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async create(input: NewInspection): Promise<{ inspection: Inspection; created: boolean }> {
    const row = await this.db
      .insertInto('inspections')
      .values(values(input))
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (row) return { inspection: toInspection(row), created: true };
    const existing = input.idempotencyKey ? await this.findByIdempotencyKey(input.idempotencyKey) : null;
    if (!existing) throw new Error('idempotency key conflict without a row');
    return { inspection: existing, created: false };
  }

  async createMany(inputs: readonly NewInspection[]): Promise<Inspection[]> {
    const result: Inspection[] = [];
    for (let i = 0; i < inputs.length; i += INSERT_CHUNK) {
      const chunk = inputs.slice(i, i + INSERT_CHUNK);
      await this.db
        .insertInto('inspections')
        .values(chunk.map(values))
        .onConflict((oc) => oc.column('idempotency_key').doNothing())
        .execute();
      const rows = await this.db
        .selectFrom('inspections')
        .selectAll()
        .where(
          'idempotency_key',
          'in',
          chunk.flatMap((c) => (c.idempotencyKey ? [c.idempotencyKey] : [])),
        )
        .execute();
      const byKey = new Map(rows.map((row) => [row.idempotency_key, row]));
      for (const input of chunk) {
        const row = byKey.get(input.idempotencyKey);
        if (row) result.push(toInspection(row));
      }
    }
    return result;
  }

  async setJob(id: string, jobId: string): Promise<void> {
    await this.db.updateTable('inspections').set({ job_id: jobId }).where('id', '=', id).execute();
  }

  async findById(id: string): Promise<Inspection | null> {
    const row = await this.db.selectFrom('inspections').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toInspection(row) : null;
  }

  async findByIdempotencyKey(key: string): Promise<Inspection | null> {
    const row = await this.db
      .selectFrom('inspections')
      .selectAll()
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    return row ? toInspection(row) : null;
  }

  async markRunning(id: string, at: Date, jobId?: string): Promise<RunningInspection | null> {
    // RUNNING too: a job redelivered after its process died runs the inspection again. The version's status is
    // read by the same statement (one round trip on the worker's hot path); it sees every change committed
    // before the claim, as a separate read right after it would. The running job is linked when the record has
    // no job yet (its submitter died between submitting and linking), so every result stays traceable.
    const row = await this.db
      .with('running', (db) =>
        db
          .updateTable('inspections')
          .set((eb) => ({
            status: InspectionStatus.Running,
            started_at: at,
            ...(jobId ? { job_id: eb.fn.coalesce('job_id', eb.val(jobId)) } : {}),
          }))
          .where('id', '=', id)
          .where('status', 'in', [InspectionStatus.Queued, InspectionStatus.Running])
          .returningAll(),
      )
      .selectFrom('running')
      .leftJoin('model_versions as mv', 'mv.id', 'running.model_version_id')
      .selectAll('running')
      .select([
        'mv.id as mv_id',
        'mv.project_id as mv_project_id',
        'mv.version as mv_version',
        'mv.status as mv_status',
        'mv.artifact_key as mv_artifact_key',
        'mv.artifact_sha256 as mv_artifact_sha256',
        'mv.image_width as mv_image_width',
        'mv.image_height as mv_image_height',
      ])
      .executeTakeFirst();
    if (!row) return null;
    const {
      mv_id,
      mv_project_id,
      mv_version,
      mv_status,
      mv_artifact_key,
      mv_artifact_sha256,
      mv_image_width,
      mv_image_height,
      ...inspectionRow
    } = row;
    const version =
      mv_id !== null && mv_project_id !== null && mv_version !== null && mv_status !== null
        ? toHostableVersion({
            id: mv_id,
            project_id: mv_project_id,
            version: mv_version,
            status: mv_status,
            artifact_key: mv_artifact_key,
            artifact_sha256: mv_artifact_sha256,
            image_width: mv_image_width,
            image_height: mv_image_height,
          })
        : null;
    return { inspection: toInspection(inspectionRow), version };
  }

  complete(id: string, result: InspectionResult, at: Date): Promise<Inspection | null> {
    return this.finish(id, 'done', at, {
      status: InspectionStatus.Done,
      verdict: result.verdict,
      score: result.score,
      raw_score: result.rawScore,
      threshold: result.threshold,
      confidence: result.confidence,
      heatmap_key: result.heatmapKey,
      mask_key: result.maskKey,
      anomalies: result.anomalies ? JSON.stringify(result.anomalies) : null,
      timings: JSON.stringify(result.timings),
      finished_at: at,
    });
  }

  fail(id: string, error: { code: string; message: string }, at: Date): Promise<Inspection | null> {
    return this.finish(id, 'failed', at, {
      status: InspectionStatus.Failed,
      error: JSON.stringify(error),
      finished_at: at,
    });
  }

  /**
   * Finishes an unfinished inspection and counts it on its batch, in one statement (one round trip: the workers'
   * JS thread is blocked by inference, so every round trip here is taken out of it). Both updates are one
   * atomic statement; a data-modifying CTE runs whether or not the outer query reads it.
   */
  private async finish(
    id: string,
    counter: 'done' | 'failed',
    at: Date,
    update: InspectionUpdate,
  ): Promise<Inspection | null> {
    const row = await this.db
      .with('finished', (db) =>
        db
          .updateTable('inspections')
          .set(update)
          .where('id', '=', id)
          .where('status', 'in', [InspectionStatus.Queued, InspectionStatus.Running])
          .returningAll(),
      )
      .with('counted', (db) =>
        db
          .updateTable('inspection_batches')
          .set((eb) => ({
            [counter]: eb(counter, '+', 1),
            // An EXPANDING batch stays open: its total is not final until the expansion job says so.
            status: sql<string>`case when status = 'EXPANDING' then 'EXPANDING' when done + failed + 1 >= total then 'DONE' else 'RUNNING' end`,
            finished_at: sql<Date | null>`case when status <> 'EXPANDING' and done + failed + 1 >= total then ${at.toISOString()}::timestamptz else null end`,
          }))
          // No row when the inspection had already finished or has no batch (NULL matches nothing).
          .where('id', '=', (eb) => eb.selectFrom('finished').select('finished.batch_id'))
          .returning('inspection_batches.id'),
      )
      .selectFrom('finished')
      .selectAll()
      .executeTakeFirst();
    return row ? toInspection(row) : null;
  }

  async list(filter: InspectionFilter, limit: number, after: Cursor | null): Promise<Inspection[]> {
    let query = this.db.selectFrom('inspections').selectAll();
    if (filter.projectId) query = query.where('project_id', '=', filter.projectId);
    if (filter.modelVersionId) query = query.where('model_version_id', '=', filter.modelVersionId);
    if (filter.batchId) query = query.where('batch_id', '=', filter.batchId);
    if (filter.line) query = query.where('line', '=', filter.line);
    if (filter.station) query = query.where('station', '=', filter.station);
    if (filter.lot) query = query.where('lot', '=', filter.lot);
    if (filter.verdict) query = query.where('verdict', '=', filter.verdict);
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.since) query = query.where('created_at', '>=', filter.since);
    if (filter.until) query = query.where('created_at', '<', filter.until);
    if (after) {
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '<', after.createdAt),
          eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)]),
        ]),
      );
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toInspection);
  }

  async addOverride(input: {
    inspectionId: string;
    verdict: Verdict;
    reason: string;
    actorId: string;
    actorName: string;
  }): Promise<InspectionOverride> {
    const row = await this.db
      .insertInto('inspection_overrides')
      .values({
        inspection_id: input.inspectionId,
        verdict: input.verdict,
        reason: input.reason,
        actor_id: input.actorId,
        actor_name: input.actorName,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toOverride(row);
  }

  async overridesOf(inspectionId: string): Promise<InspectionOverride[]> {
    const rows = await this.db
      .selectFrom('inspection_overrides')
      .selectAll()
      .where('inspection_id', '=', inspectionId)
      .orderBy('at', 'asc')
      .orderBy('id', 'asc')
      .execute();
    return rows.map(toOverride);
  }

  async createBatch(input: {
    projectId: string;
    modelVersionId: string;
    total: number;
    source: BatchSource;
    idempotencyKey: string | null;
    createdBy: string;
  }): Promise<{ batch: InspectionBatch; created: boolean }> {
    const row = await this.db
      .insertInto('inspection_batches')
      .values({
        project_id: input.projectId,
        model_version_id: input.modelVersionId,
        total: input.total,
        status: 'EXPANDING',
        source: JSON.stringify(input.source),
        idempotency_key: input.idempotencyKey,
        created_by: input.createdBy,
      })
      .onConflict((oc) => oc.column('idempotency_key').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (row) return { batch: toBatch(row), created: true };
    const existing = await this.db
      .selectFrom('inspection_batches')
      .selectAll()
      .where('idempotency_key', '=', input.idempotencyKey)
      .executeTakeFirstOrThrow();
    return { batch: toBatch(existing), created: false };
  }

  async setBatchTotal(id: string, total: number, skipped: number): Promise<void> {
    await this.db
      .updateTable('inspection_batches')
      .set({ total, skipped })
      .where('id', '=', id)
      .where('status', '=', 'EXPANDING')
      .execute();
  }

  async finishExpansion(id: string, at: Date): Promise<InspectionBatch | null> {
    const row = await this.db
      .updateTable('inspection_batches')
      .set({
        status: sql<string>`case when done + failed >= total then 'DONE' else 'RUNNING' end`,
        finished_at: sql<Date | null>`case when done + failed >= total then ${at.toISOString()}::timestamptz else null end`,
      })
      .where('id', '=', id)
      .where('status', '=', 'EXPANDING')
      .returningAll()
      .executeTakeFirst();
    return row ? toBatch(row) : null;
  }

  async failBatch(id: string, error: { code: string; message: string }, at: Date): Promise<InspectionBatch | null> {
    const row = await this.db
      .updateTable('inspection_batches')
      .set({ status: 'FAILED', error: JSON.stringify(error), finished_at: at })
      .where('id', '=', id)
      .where('status', '=', 'EXPANDING')
      .returningAll()
      .executeTakeFirst();
    return row ? toBatch(row) : null;
  }

  async findBatch(id: string): Promise<InspectionBatch | null> {
    const row = await this.db.selectFrom('inspection_batches').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toBatch(row) : null;
  }

  async findBatchByKey(key: string): Promise<InspectionBatch | null> {
    const row = await this.db
      .selectFrom('inspection_batches')
      .selectAll()
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    return row ? toBatch(row) : null;
  }

  async pendingCount(modelVersionId: string): Promise<number> {
    const row = await this.db
      .selectFrom('inspections')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('model_version_id', '=', modelVersionId)
      .where('status', 'in', ['QUEUED', 'RUNNING'])
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async queueDepth(queue: string): Promise<number> {
    const row = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('queue', '=', queue)
      .where('status', 'in', ['queued', 'running'])
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
