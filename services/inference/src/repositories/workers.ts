import { sql, type Kysely } from 'kysely';
import type { Database } from '@vigil/db';
import type { InferenceWorker, PendingByVersion, WorkerRepository } from '../domain/workers';

/** inference_workers is this service's table; the rest is read-only here (see the README). */
export class KyselyWorkerRepository implements WorkerRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async heartbeat(worker: { id: string; host: string; pid: number; loadedDigests: readonly string[] }, at: Date) {
    const loaded = JSON.stringify([...worker.loadedDigests]);
    await this.db
      .insertInto('inference_workers')
      .values({ id: worker.id, host: worker.host, pid: worker.pid, loaded_digests: loaded, last_seen_at: at })
      .onConflict((oc) => oc.column('id').doUpdateSet({ loaded_digests: loaded, last_seen_at: at }))
      .execute();
  }

  async remove(id: string): Promise<void> {
    await this.db.deleteFrom('inference_workers').where('id', '=', id).execute();
  }

  async removeStale(before: Date): Promise<void> {
    await this.db.deleteFrom('inference_workers').where('last_seen_at', '<', before).execute();
  }

  async list(since: Date): Promise<InferenceWorker[]> {
    const rows = await this.db
      .selectFrom('inference_workers')
      .selectAll()
      .where('last_seen_at', '>=', since)
      .orderBy('started_at')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      host: r.host,
      pid: r.pid,
      loadedDigests: Array.isArray(r.loaded_digests) ? r.loaded_digests : [],
      startedAt: r.started_at,
      lastSeenAt: r.last_seen_at,
    }));
  }

  async servingDigests(): Promise<Set<string>> {
    // A version being started must not be evicted from under its host-model job.
    const rows = await this.db
      .selectFrom('model_versions')
      .select('artifact_sha256')
      .where('status', 'in', ['HOSTED', 'STARTING_HOSTING'])
      .where('artifact_sha256', 'is not', null)
      .execute();
    return new Set(rows.map((r) => r.artifact_sha256).filter((d): d is string => d !== null));
  }

  async pendingByHostedVersion(): Promise<PendingByVersion[]> {
    const rows = await this.db
      .selectFrom('model_deployments as d')
      .innerJoin('model_versions as v', 'v.id', 'd.model_version_id')
      .leftJoin(
        (eb) =>
          eb
            .selectFrom('inspections')
            .select(['model_version_id', (e) => e.fn.countAll<string>().as('n')])
            .where('status', 'in', ['QUEUED', 'RUNNING'])
            .groupBy('model_version_id')
            .as('p'),
        (join) => join.onRef('p.model_version_id', '=', 'd.model_version_id'),
      )
      .select([
        'd.model_version_id',
        'd.min_workers',
        'd.max_workers',
        'v.artifact_sha256',
        sql<string>`coalesce(p.n, 0)`.as('pending'),
      ])
      .where('d.desired_state', '=', 'HOSTED')
      .execute();
    return rows.map((r) => ({
      modelVersionId: r.model_version_id,
      artifactSha256: r.artifact_sha256,
      minWorkers: r.min_workers,
      maxWorkers: r.max_workers,
      pending: Number(r.pending),
    }));
  }
}
