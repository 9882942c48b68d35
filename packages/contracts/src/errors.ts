/**
 * Errors are values with a code. Every layer below the API edge returns or throws a
 * `VigilError`; the edge (GraphQL formatError, REST handlers, CLI) maps the code once.
 */
export const ErrorCode = {
  BadUserInput: 'BAD_USER_INPUT',
  NotFound: 'NOT_FOUND',
  Conflict: 'CONFLICT',
  Unauthenticated: 'UNAUTHENTICATED',
  Forbidden: 'FORBIDDEN',
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  InvalidImage: 'INVALID_IMAGE',
  ImageTooLarge: 'IMAGE_TOO_LARGE',
  InvalidManifest: 'INVALID_MANIFEST',
  ResourceExhausted: 'RESOURCE_EXHAUSTED',
  Unavailable: 'UNAVAILABLE',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorDetails {
  readonly [key: string]: unknown;
}

export class VigilError extends Error {
  override readonly name = 'VigilError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export function isVigilError(value: unknown): value is VigilError {
  return value instanceof VigilError;
}

/** Shorthands for the common codes, so call sites read as sentences. */
export const errors = {
  badInput: (message: string, details?: ErrorDetails) => new VigilError(ErrorCode.BadUserInput, message, details),
  notFound: (entity: string, id: string) =>
    new VigilError(ErrorCode.NotFound, `${entity} '${id}' was not found`, { entity, id }),
  conflict: (message: string, details?: ErrorDetails) => new VigilError(ErrorCode.Conflict, message, details),
  forbidden: (message: string, details?: ErrorDetails) => new VigilError(ErrorCode.Forbidden, message, details),
  unauthenticated: (message: string) => new VigilError(ErrorCode.Unauthenticated, message),
  invalidImage: (message: string, details?: ErrorDetails) => new VigilError(ErrorCode.InvalidImage, message, details),
  invalidManifest: (message: string, details?: ErrorDetails) =>
    new VigilError(ErrorCode.InvalidManifest, message, details),
  internal: (message: string, cause?: unknown) => new VigilError(ErrorCode.Internal, message, {}, { cause }),
};

/** A short, loggable description of anything thrown. */
export function describeError(error: unknown): { code: ErrorCode; message: string; details: ErrorDetails } {
  if (isVigilError(error)) return error.toJSON();
  if (error instanceof Error) return { code: ErrorCode.Internal, message: error.message, details: {} };
  return { code: ErrorCode.Internal, message: String(error), details: {} };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids that are not UUIDs cannot exist; callers answer NOT_FOUND instead of letting SQL reject them. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
