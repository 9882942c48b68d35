import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode, isVigilError } from '@vigil/contracts';
import type { Logger } from './logger';

/**
 * The one place where errors become GraphQL errors. VigilErrors keep their code and details;
 * anything else is an internal error whose message is logged, not shown.
 */
export function formatGraphQLError(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
    if (isVigilError(original)) {
      return {
        ...formatted,
        message: original.message,
        extensions: { ...formatted.extensions, code: original.code, details: original.details },
      };
    }
    const existingCode = formatted.extensions?.['code'];
    // Apollo's own validation/parse errors already carry a public code; keep them.
    if (typeof existingCode === 'string' && existingCode !== 'INTERNAL_SERVER_ERROR') {
      return formatted;
    }
    log.error({ err: original }, 'unhandled error in resolver');
    return { message: 'Internal error', path: formatted.path, extensions: { code: ErrorCode.Internal } };
  };
}
