import type { Response } from 'express';
import { describeError, ErrorCode, isVigilError, VigilError } from '@vigil/contracts';
import type { Logger } from '@vigil/service-kit';

/** Lookout for Vision's error types, with their HTTP status. */
export const LOOKOUT_ERRORS = {
  AccessDeniedException: 403,
  ConflictException: 409,
  InternalServerException: 500,
  ResourceNotFoundException: 404,
  ServiceQuotaExceededException: 402,
  ThrottlingException: 429,
  ValidationException: 400,
} as const;
export type LookoutErrorType = keyof typeof LOOKOUT_ERRORS;

/** An error that already knows its Lookout type (e.g. a quota), for the few Vigil has no code for. */
export class LookoutError extends Error {
  constructor(
    readonly type: LookoutErrorType,
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** Vigil's error codes, mapped once to Lookout's error types. */
export function lookoutType(code: ErrorCode): LookoutErrorType {
  switch (code) {
    case ErrorCode.NotFound:
      return 'ResourceNotFoundException';
    case ErrorCode.BadUserInput:
    case ErrorCode.InvalidImage:
    case ErrorCode.InvalidManifest:
    case ErrorCode.ImageTooLarge:
    case ErrorCode.PayloadTooLarge:
    case ErrorCode.UnsupportedMediaType:
      return 'ValidationException';
    case ErrorCode.Conflict:
      return 'ConflictException';
    case ErrorCode.ResourceExhausted:
      return 'ThrottlingException';
    case ErrorCode.Forbidden:
    case ErrorCode.Unauthenticated:
      return 'AccessDeniedException';
    default:
      return 'InternalServerException';
  }
}

export interface LookoutErrorBody {
  readonly status: number;
  readonly type: LookoutErrorType;
  readonly body: Record<string, string>;
  readonly retryAfterSeconds?: number;
}

/** The status, `x-amzn-errortype` and `{"Message": ...}` body of anything thrown by an operation. */
export function toLookoutError(error: unknown, log: Logger): LookoutErrorBody {
  if (error instanceof LookoutError) {
    return { status: LOOKOUT_ERRORS[error.type], type: error.type, body: { Message: error.message, ...error.fields } };
  }
  if (!isVigilError(error)) {
    log.error({ err: error }, 'unhandled error in the Lookout REST layer');
    return { status: 500, type: 'InternalServerException', body: { Message: 'Internal error' } };
  }
  const type = lookoutType(error.code);
  const body: Record<string, string> = { Message: error.message };
  const entity = error.details['entity'];
  const id = error.details['id'];
  if ((type === 'ResourceNotFoundException' || type === 'ConflictException') && typeof id === 'string') {
    body['ResourceId'] = id;
    if (typeof entity === 'string') body['ResourceType'] = entity;
  }
  if (type === 'InternalServerException') {
    if (error.code === ErrorCode.Internal) log.error({ err: error }, 'internal error in the Lookout REST layer');
    // Unavailable says what to do; internal details never leave the server.
    if (error.code !== ErrorCode.Unavailable) body['Message'] = 'Internal error';
  }
  const retryAfter = Number(error.details['retryAfterSeconds']);
  return {
    status: LOOKOUT_ERRORS[type],
    type,
    body,
    ...(type === 'ThrottlingException' || type === 'InternalServerException'
      ? { retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? Math.ceil(retryAfter) : 1 }
      : {}),
  };
}

export function sendLookoutError(res: Response, error: unknown, log: Logger): LookoutErrorBody {
  const mapped = toLookoutError(error, log);
  res.setHeader('x-amzn-errortype', mapped.type);
  if (mapped.retryAfterSeconds !== undefined && mapped.type === 'ThrottlingException') {
    res.setHeader('retry-after', String(mapped.retryAfterSeconds));
  }
  res.status(mapped.status).json(mapped.body);
  return mapped;
}

/** A VigilError rebuilt from a GraphQL error's extensions (the gateway already formatted it). */
export function fromGraphQLError(error: {
  message: string;
  extensions?: Record<string, unknown> | undefined;
}): VigilError {
  const code = error.extensions?.['code'];
  const known = Object.values(ErrorCode) as string[];
  if (typeof code === 'string' && known.includes(code)) {
    const details = error.extensions?.['details'];
    return new VigilError(
      code as ErrorCode,
      error.message,
      details && typeof details === 'object' ? (details as Record<string, unknown>) : {},
    );
  }
  // Apollo's own validation codes mean this layer sent a bad operation: an internal error, not the caller's.
  return new VigilError(ErrorCode.Internal, describeError(new Error(error.message)).message);
}
