import type { Kysely } from 'kysely';
import { DatasetType, errors, isUuid, type Principal } from '@vigil/contracts';
import type { Database, JobRow, ModelEvaluationRow } from '@vigil/db';
import { pageSize, toJobView, type AuditTrail, type JobView, type Page } from '@vigil/service-kit';
import type { ObjectStore } from '@vigil/storage';
import type { EvaluationRepository } from '../repositories/evaluations';
import type { ModelVersionRepository } from '../repositories/model-versions';
import type { TrainingDataSource } from '../repositories/training-data';
import { TrainingJobKind, TrainingQueue, type TrainModelPayload } from '../jobs/payloads';
import { CreateModelInputSchema, parseInput, trainingSettings } from './create-input';
import { toModelVersion, type ModelVersion } from './model-version';
import { CANCELLED_MESSAGE, HOSTING_STATUSES, ModelStatus } from './statuses';
import { DEFAULT_SPLIT } from './split';

export interface Actor {
  readonly principal: Principal;
  readonly requestId?: string;
}

export interface Transactor {
  transaction<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T>;
}

/** The slice of the job system this service uses (see @vigil/queue). */
export interface JobPort {
  submit(input: {
    queue: string;
    kind: string;
    payload: unknown;
    createdBy: string;
    idempotencyKey?: string;
  }): Promise<JobRow>;
  get(id: string): Promise<JobRow | undefined>;
  cancel(id: string): Promise<JobRow | undefined>;
}

/** Lookout needs more; a PatchCore bank works from a handful, and calibration wants a few held out. */
export const MIN_TRAIN_NORMALS = 2;

export interface EvaluationNode {
  readonly imageId: string;
  readonly expected: 'normal' | 'anomaly';
  readonly score: number;
  readonly rawScore: number;
  readonly verdict: 'normal' | 'anomaly';
  readonly correct: boolean;
}

const EMPTY_PROGRESS: JobView['progress'] = { done: 0, total: null, step: null, percent: null };

function encodeImageCursor(imageId: string): string {
  return Buffer.from(JSON.stringify({ i: imageId })).toString('base64url');
}

function decodeImageCursor(after: string | null | undefined): string | null {
  if (after === null || after === undefined || after === '') return null;
  try {
    const parsed = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as { i?: unknown };
    if (typeof parsed.i === 'string' && /^[0-9a-f]{64}$/.test(parsed.i)) return parsed.i;
  } catch {
    // falls through to the error below
  }
  throw errors.badInput('invalid pagination cursor', { cursor: after });
}

/** Model versions: create (queue training), read, cancel, delete. The training itself is the Trainer's. */
export class ModelService {
  constructor(
    private readonly versions: ModelVersionRepository,
    private readonly evaluations: EvaluationRepository,
    private readonly data: TrainingDataSource,
    private readonly jobs: JobPort,
    private readonly store: Pick<ObjectStore, 'delete'>,
    private readonly audit: AuditTrail,
    private readonly tx: Transactor,
  ) {}

  async create(input: unknown, actor: Actor): Promise<ModelVersion> {
    const parsed = parseInput(CreateModelInputSchema, input);
    if (!parsed.project.id && !parsed.project.name) throw errors.badInput('give a project id or name');
    const project = await this.data.findProject(parsed.project);
    if (!project) throw errors.notFound('project', parsed.project.id ?? parsed.project.name ?? '');
    const idempotencyKey = parsed.idempotencyKey ? `${actor.principal.id}:${parsed.idempotencyKey}` : null;
    if (idempotencyKey) {
      const existing = await this.versions.findByIdempotencyKey(idempotencyKey);
      if (existing) return toModelVersion(existing);
    }
    await this.checkTrainable(project.id);
    const settings = trainingSettings(parsed, DEFAULT_SPLIT);

    let created: ModelVersion;
    try {
      created = await this.tx.transaction(async (db) => {
        const row = await this.versions.insertNext(
          {
            projectId: project.id,
            description: parsed.description || null,
            idempotencyKey,
            engineConfig: settings,
            createdBy: actor.principal.name,
          },
          db,
        );
        // Only a concurrent create with the same idempotency key gets here; throwing rolls the counter back.
        if (!row) throw errors.conflict('a model version with this idempotency key is being created; retry');
        const version = toModelVersion(row);
        await this.audit.record(
          {
            actor: actor.principal,
            requestId: actor.requestId,
            action: 'model.create',
            entityType: 'modelVersion',
            entityId: row.id,
            after: { projectId: project.id, version: version.version, description: version.description, settings },
          },
          db,
        );
        return version;
      });
    } catch (error) {
      const existing = idempotencyKey ? await this.versions.findByIdempotencyKey(idempotencyKey) : undefined;
      if (existing) return toModelVersion(existing);
      throw error;
    }

    const payload: TrainModelPayload = {
      modelVersionId: created.id,
      actor: { principal: actor.principal, ...(actor.requestId ? { requestId: actor.requestId } : {}) },
    };
    try {
      const job = await this.jobs.submit({
        queue: TrainingQueue.Training,
        kind: TrainingJobKind.TrainModel,
        payload,
        createdBy: actor.principal.name,
        ...(idempotencyKey ? { idempotencyKey: `model:${idempotencyKey}` } : {}),
      });
      const row = await this.versions.patch(created.id, { job_id: job.id });
      return row ? toModelVersion(row) : created;
    } catch (error) {
      await this.versions.transition(created.id, [ModelStatus.Training], ModelStatus.TrainingFailed, {
        status_message: 'the training job could not be queued',
      });
      throw error;
    }
  }

  /** What can be checked before queueing: a train dataset with enough normal images. */
  private async checkTrainable(projectId: string): Promise<void> {
    const train = await this.data.labelCounts(projectId, DatasetType.Train);
    if (!train) throw errors.badInput('the project has no train dataset; import labelled images first', { projectId });
    if (train.normal === 0) {
      throw errors.badInput('the train dataset has no normal images; training needs normal images to learn from', {
        projectId,
        ...train,
      });
    }
    if (train.normal < MIN_TRAIN_NORMALS) {
      throw errors.badInput(
        `too few images: the train dataset has ${train.normal} normal image(s); training needs at least ${MIN_TRAIN_NORMALS}`,
        { projectId, ...train },
      );
    }
  }

  async get(id: string): Promise<ModelVersion> {
    const row = await this.versions.findById(id);
    if (!row) throw errors.notFound('model version', id);
    return toModelVersion(row);
  }

  async findById(id: string): Promise<ModelVersion | null> {
    const row = await this.versions.findById(id);
    return row ? toModelVersion(row) : null;
  }

  async ofProject(projectId: string): Promise<ModelVersion[]> {
    if (!isUuid(projectId)) return [];
    return (await this.versions.listByProject(projectId)).map(toModelVersion);
  }

  async byVersion(projectId: string, version: number): Promise<ModelVersion | null> {
    if (!isUuid(projectId) || !Number.isInteger(version)) return null;
    const row = await this.versions.findByVersion(projectId, version);
    return row ? toModelVersion(row) : null;
  }

  async job(model: ModelVersion): Promise<JobView | null> {
    if (!model.jobId) return null;
    const row = await this.jobs.get(model.jobId);
    return row ? toJobView(row) : null;
  }

  async progress(model: ModelVersion): Promise<JobView['progress']> {
    return (await this.job(model))?.progress ?? EMPTY_PROGRESS;
  }

  async evaluation(
    model: ModelVersion,
    options: { first?: number | null; after?: string | null; onlyWrong?: boolean | null },
  ): Promise<Page<EvaluationNode> & { totalCount: number }> {
    const limit = pageSize(options.first);
    const filter = { onlyWrong: options.onlyWrong ?? false };
    const rows = await this.evaluations.list(model.id, filter, limit, decodeImageCursor(options.after));
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      nodes: page.map(toEvaluationNode),
      pageInfo: { hasNextPage: rows.length > limit, endCursor: last ? encodeImageCursor(last.image_id) : null },
      totalCount: await this.evaluations.count(model.id, filter),
    };
  }

  /** Stops a training: the job is cancelled and the version is TRAINING_FAILED with a 'cancelled' message. */
  async cancel(id: string, actor: Actor): Promise<ModelVersion> {
    const before = await this.get(id);
    if (before.status !== ModelStatus.Training) {
      throw errors.conflict(`model version ${before.version} is ${before.status}, not TRAINING`, {
        status: before.status,
      });
    }
    if (before.jobId) await this.jobs.cancel(before.jobId);
    return this.tx.transaction(async (db) => {
      const row = await this.versions.transition(
        id,
        [ModelStatus.Training],
        ModelStatus.TrainingFailed,
        { status_message: `${CANCELLED_MESSAGE} by ${actor.principal.name}` },
        db,
      );
      // The training finished between the read and the cancel: report what it is now.
      if (!row) {
        const now = await this.get(id);
        throw errors.conflict(`model version ${now.version} is ${now.status}, not TRAINING`, { status: now.status });
      }
      const after = toModelVersion(row);
      await this.audit.record(
        {
          actor: actor.principal,
          requestId: actor.requestId,
          action: 'model.cancel',
          entityType: 'modelVersion',
          entityId: id,
          before: { status: before.status },
          after: { status: after.status, statusMessage: after.statusMessage },
        },
        db,
      );
      return after;
    });
  }

  /** Deletes a version, its evaluation and (when no other version shares it) its artifact. */
  async delete(id: string, actor: Actor): Promise<ModelVersion> {
    const before = await this.get(id);
    if (HOSTING_STATUSES.includes(before.status)) {
      throw errors.conflict(`model version ${before.version} is ${before.status}; stop hosting it before deleting`, {
        status: before.status,
      });
    }
    if (before.status === ModelStatus.Training) {
      throw errors.conflict(`model version ${before.version} is TRAINING; cancel the training before deleting`, {
        status: before.status,
      });
    }
    const deleting = await this.versions.transition(
      id,
      [ModelStatus.Trained, ModelStatus.TrainingFailed, ModelStatus.HostingFailed, ModelStatus.Deleting],
      ModelStatus.Deleting,
    );
    if (!deleting) throw errors.conflict(`model version ${before.version} changed status; try again`);
    if (before.artifact && (await this.versions.artifactUsers(before.artifact.key, id)) === 0) {
      await this.store.delete(before.artifact.key);
    }
    return this.tx.transaction(async (db) => {
      await this.versions.delete(id, db);
      const { logs: _logs, ...recorded } = before;
      await this.audit.record(
        {
          actor: actor.principal,
          requestId: actor.requestId,
          action: 'model.delete',
          entityType: 'modelVersion',
          entityId: id,
          before: recorded,
        },
        db,
      );
      return { ...before, status: ModelStatus.Deleting };
    });
  }
}

function toEvaluationNode(row: ModelEvaluationRow): EvaluationNode {
  return {
    imageId: row.image_id,
    expected: row.expected as EvaluationNode['expected'],
    score: row.score,
    rawScore: row.raw_score,
    verdict: row.verdict as EvaluationNode['verdict'],
    correct: row.correct,
  };
}
