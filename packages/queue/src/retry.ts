import { ErrorCode, isVigilError, type ErrorCode as ErrorCodeType } from '@vigil/contracts';
import type { JobErrorInfo } from './types';

/** Failures that another attempt cannot fix: bad input, missing things, invalid content, refused access. */
export const NON_RETRYABLE_CODES: ReadonlySet<ErrorCodeType> = new Set<ErrorCodeType>([
  ErrorCode.BadUserInput,
  ErrorCode.NotFound,
  ErrorCode.InvalidImage,
  ErrorCode.InvalidManifest,
  ErrorCode.ImageTooLarge,
  ErrorCode.PayloadTooLarge,
  ErrorCode.UnsupportedMediaType,
  ErrorCode.Forbidden,
  ErrorCode.Unauthenticated,
]);

/**
 * Whether another attempt may succeed. A VigilError can decide for itself with `details.retryable`;
 * otherwise its code decides; anything else (bugs, network errors) is retried.
 */
export function isRetryableError(error: unknown): boolean {
  if (!isVigilError(error)) return true;
  const override = error.details['retryable'];
  if (typeof override === 'boolean') return override;
  return !NON_RETRYABLE_CODES.has(error.code);
}

/**
 * What the job row records. Internal errors are not described beyond their code: job errors are shown
 * to API callers, and the full error goes to the log.
 */
export function toJobError(error: unknown, attempt: number, retryable: boolean): JobErrorInfo {
  if (isVigilError(error)) {
    const { retryable: _ignored, ...details } = error.details;
    return { code: error.code, message: error.message, details, retryable, attempt };
  }
  return { code: ErrorCode.Internal, message: 'the job failed with an internal error', retryable, attempt };
}

export interface BackoffOptions {
  /** Delay before the second attempt; doubles each time. Default 1000. */
  readonly baseMs?: number;
  /** Upper bound. Default 60000. */
  readonly maxMs?: number;
}

/** Exponential backoff after failed attempt `attempt` (1-based): base, 2·base, 4·base… capped at max. */
export function backoffDelayMs(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? 1000;
  const max = options.maxMs ?? 60_000;
  return Math.min(max, base * 2 ** Math.max(0, attempt - 1));
}
