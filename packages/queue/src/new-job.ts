import { errors } from '@vigil/contracts';
import { canonicalJson, toJsonValue } from './json';
import type { JobRow, NewJob } from './types';

/** Queue names end up in Redis keys (BullMQ forbids ':'), so both names stay plain. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

export function assertJobName(value: string, what: 'queue' | 'kind'): void {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw errors.badInput(`invalid job ${what} '${String(value)}': use letters, digits, '.', '_' or '-'`, {
      [what]: value,
    });
  }
}

export interface NormalisedNewJob {
  readonly queue: string;
  readonly kind: string;
  readonly payload: unknown;
  readonly createdBy: string;
  readonly idempotencyKey: string | null;
}

export function normaliseNewJob(job: NewJob): NormalisedNewJob {
  assertJobName(job.queue, 'queue');
  assertJobName(job.kind, 'kind');
  if (typeof job.createdBy !== 'string' || job.createdBy.trim() === '') {
    throw errors.badInput('createdBy must be a non-empty string');
  }
  const key = job.idempotencyKey ?? null;
  if (key !== null && (typeof key !== 'string' || key === '' || key.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
    throw errors.badInput(`idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  return {
    queue: job.queue,
    kind: job.kind,
    payload: toJsonValue(job.payload, 'job payload'),
    createdBy: job.createdBy,
    idempotencyKey: key,
  };
}

/** An idempotent retry must ask for the same thing; the same key for something else is a CONFLICT. */
export function assertSameRequest(existing: JobRow, job: NormalisedNewJob): void {
  const same =
    existing.queue === job.queue &&
    existing.kind === job.kind &&
    existing.created_by === job.createdBy &&
    canonicalJson(existing.payload) === canonicalJson(job.payload);
  if (!same) {
    throw errors.conflict(`idempotency key '${job.idempotencyKey}' was already used for a different job`, {
      idempotencyKey: job.idempotencyKey,
      jobId: existing.id,
    });
  }
}
