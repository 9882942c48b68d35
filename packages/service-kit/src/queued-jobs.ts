import { ErrorCode, errors, isUuid, isVigilError, type Principal } from '@vigil/contracts';
import type { JobRow } from '@vigil/db';
import type { AuditTrail } from './audit';
import type { JobSystem } from './jobs-port';

/** The part of the job system a service's API layer uses: submit, read and cancel. */
export type JobPort = Pick<JobSystem, 'submit' | 'get' | 'cancel'>;

export interface JobActor {
  readonly principal: Principal;
  readonly requestId?: string;
}

export interface QueuedJobsSpec<View> {
  /** The queue whose jobs this facade shows; a job of another queue is NOT_FOUND here. */
  readonly queue: string;
  /** How errors name the job, e.g. 'dataset import job'. */
  readonly noun: string;
  /** Audit action recorded when a job is cancelled. */
  readonly cancelAction: string;
  readonly view: (row: JobRow) => View;
}

/**
 * Submitting, reading and cancelling one queue's jobs, the same way in every service: idempotency keys are
 * scoped to the caller, unknown or foreign ids are NOT_FOUND, and a cancel is audited with the status before
 * and after (both in the view's form).
 */
export class QueuedJobs<View extends { readonly status: string }> {
  constructor(
    private readonly jobs: JobPort,
    private readonly audit: AuditTrail,
    private readonly spec: QueuedJobsSpec<View>,
  ) {}

  submit(input: { kind: string; payload: unknown; actor: JobActor; idempotencyKey?: string | null }): Promise<JobRow> {
    return this.jobs.submit({
      queue: this.spec.queue,
      kind: input.kind,
      payload: input.payload,
      createdBy: input.actor.principal.name,
      // Scoped to the caller, so two clients choosing the same key never see each other's job.
      ...(input.idempotencyKey ? { idempotencyKey: `${input.actor.principal.id}:${input.idempotencyKey}` } : {}),
    });
  }

  async get(id: string): Promise<View> {
    // The job system may answer NOT_FOUND itself; anything else (an outage) is not a missing job.
    const row = isUuid(id)
      ? await this.jobs.get(id).catch((error: unknown) => {
          if (isVigilError(error) && error.code === ErrorCode.NotFound) return undefined;
          throw error;
        })
      : undefined;
    if (!row || row.queue !== this.spec.queue) throw errors.notFound(this.spec.noun, id);
    return this.spec.view(row);
  }

  async cancel(id: string, actor: JobActor): Promise<View> {
    const before = await this.get(id);
    const row = await this.jobs.cancel(id);
    if (!row) throw errors.notFound(this.spec.noun, id);
    const after = this.spec.view(row);
    await this.audit.record({
      actor: actor.principal,
      requestId: actor.requestId,
      action: this.spec.cancelAction,
      entityType: 'job',
      entityId: id,
      before: { status: before.status },
      after: { status: after.status },
    });
    return after;
  }
}
