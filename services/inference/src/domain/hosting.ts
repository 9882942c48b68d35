import { errors, isUuid, type Principal } from '@vigil/contracts';
import type { AuditTrail, JobSystem } from '@vigil/service-kit';
import { InferenceJobKind, InferenceQueue, type HostModelPayload } from '../jobs/payloads';
import type { Deployment, HostableVersion, HostingRepository } from './types';

/** Lookout's hosting statuses of a model version (the training service owns the others). */
export const HostingStatus = {
  Trained: 'TRAINED',
  StartingHosting: 'STARTING_HOSTING',
  Hosted: 'HOSTED',
  HostingFailed: 'HOSTING_FAILED',
  StoppingHosting: 'STOPPING_HOSTING',
} as const;

export interface Actor {
  readonly principal: Principal;
  readonly requestId?: string;
}

/** Loads and drops models on this process's workers. */
export interface ModelHost {
  load(version: HostableVersion): Promise<void>;
  unload(artifactSha256: string): Promise<void>;
}

export const MAX_WORKERS_LIMIT = 64;

/**
 * startModel / stopModel. A version is HOSTED once a worker has loaded its artifact: starting queues a
 * host-model job on the interactive queue, which whichever worker takes it (this process embedded, any
 * worker distributed) runs. Other workers load the model on their first detection (LRU cache).
 */
export class HostingService {
  constructor(
    private readonly repo: HostingRepository,
    private readonly jobs: JobSystem,
    private readonly audit: AuditTrail,
    private readonly host: ModelHost,
  ) {}

  async version(id: string): Promise<HostableVersion> {
    const version = isUuid(id) ? await this.repo.findVersion(id) : null;
    if (!version) throw errors.notFound('model version', id);
    return version;
  }

  deployment(id: string): Promise<Deployment | null> {
    return this.repo.findDeployment(id);
  }

  async start(id: string, minWorkers: number, maxWorkers: number | null, actor: Actor): Promise<HostableVersion> {
    const max = maxWorkers ?? minWorkers;
    if (!Number.isInteger(minWorkers) || minWorkers < 1 || minWorkers > MAX_WORKERS_LIMIT)
      throw errors.badInput(`minWorkers must be from 1 to ${MAX_WORKERS_LIMIT}`, { minWorkers });
    if (!Number.isInteger(max) || max < minWorkers || max > MAX_WORKERS_LIMIT)
      throw errors.badInput(`maxWorkers must be from minWorkers to ${MAX_WORKERS_LIMIT}`, { maxWorkers: max });
    const version = await this.version(id);
    if (version.status === HostingStatus.Hosted || version.status === HostingStatus.StartingHosting) return version;
    if (!version.artifactKey) {
      throw errors.conflict(`model version ${version.version} has no artifact (status ${version.status})`, {
        status: version.status,
      });
    }
    const moved = await this.repo.transition(
      id,
      [HostingStatus.Trained, HostingStatus.HostingFailed],
      HostingStatus.StartingHosting,
    );
    if (!moved) {
      throw errors.conflict(
        `model version ${version.version} is ${version.status}; only a TRAINED (or HOSTING_FAILED) version can be started`,
        { status: version.status },
      );
    }
    await this.repo.saveDeployment({
      modelVersionId: id,
      minWorkers,
      maxWorkers: max,
      desiredState: 'HOSTED',
      actualState: 'STARTING',
    });
    await this.audit.record({
      actor: actor.principal,
      action: 'model.start',
      entityType: 'model_version',
      entityId: id,
      before: { status: version.status },
      after: { status: HostingStatus.StartingHosting, minWorkers, maxWorkers: max },
      ...(actor.requestId ? { requestId: actor.requestId } : {}),
    });
    const payload: HostModelPayload = { modelVersionId: id, actor };
    await this.jobs.submit({
      queue: InferenceQueue.Interactive,
      kind: InferenceJobKind.HostModel,
      payload,
      createdBy: actor.principal.id,
    });
    return this.version(id);
  }

  /** The host-model job: load the artifact, then HOSTED (or HOSTING_FAILED with the reason). */
  async runHostJob(payload: HostModelPayload): Promise<{ state: string }> {
    const version = await this.repo.findVersion(payload.modelVersionId);
    const deployment = await this.repo.findDeployment(payload.modelVersionId);
    if (!version || !deployment || deployment.desiredState !== 'HOSTED') return { state: 'skipped' };
    try {
      await this.host.load(version);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await this.repo.transition(version.id, [HostingStatus.StartingHosting], HostingStatus.HostingFailed, message);
      await this.repo.saveDeployment({ ...deployment, actualState: 'FAILED', message });
      return { state: 'failed' };
    }
    const hosted = await this.repo.transition(version.id, [HostingStatus.StartingHosting], HostingStatus.Hosted);
    if (hosted) await this.repo.saveDeployment({ ...deployment, actualState: 'HOSTED' });
    return { state: hosted ? 'hosted' : 'superseded' };
  }

  async stop(id: string, actor: Actor): Promise<HostableVersion> {
    const version = await this.version(id);
    const stoppable = [HostingStatus.Hosted, HostingStatus.StartingHosting, HostingStatus.HostingFailed];
    if (!(stoppable as readonly string[]).includes(version.status)) {
      throw errors.conflict(`model version ${version.version} is not hosted (status ${version.status})`, {
        status: version.status,
      });
    }
    if (!(await this.repo.transition(id, stoppable, HostingStatus.StoppingHosting))) {
      throw errors.conflict(`model version ${version.version} changed status meanwhile; try again`);
    }
    const deployment = await this.repo.findDeployment(id);
    const workers = { minWorkers: deployment?.minWorkers ?? 1, maxWorkers: deployment?.maxWorkers ?? 1 };
    await this.repo.saveDeployment({
      modelVersionId: id,
      ...workers,
      desiredState: 'STOPPED',
      actualState: 'STOPPING',
    });
    // Workers check the status before each detection, so from here on nothing new runs with this version.
    if (version.artifactSha256) await this.host.unload(version.artifactSha256);
    await this.repo.transition(id, [HostingStatus.StoppingHosting], HostingStatus.Trained);
    await this.repo.saveDeployment({ modelVersionId: id, ...workers, desiredState: 'STOPPED', actualState: 'STOPPED' });
    await this.audit.record({
      actor: actor.principal,
      action: 'model.stop',
      entityType: 'model_version',
      entityId: id,
      before: { status: version.status },
      after: { status: HostingStatus.Trained },
      ...(actor.requestId ? { requestId: actor.requestId } : {}),
    });
    return this.version(id);
  }
}
