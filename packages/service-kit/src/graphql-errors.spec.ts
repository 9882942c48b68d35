import { describe, expect, it } from '@jest/globals';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import pino from 'pino';
import { ErrorCode, errors } from '@vigil/contracts';
import { formatGraphQLError } from './graphql-errors';

/** A pino logger writing into an array, so tests see what was logged. */
function capturingLogger(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'trace' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

const formatted = (message: string, code?: string): GraphQLFormattedError => ({
  message,
  path: ['project'],
  ...(code ? { extensions: { code } } : {}),
});

describe('formatGraphQLError', () => {
  it('keeps a VigilError code, message and details', () => {
    const { log, lines } = capturingLogger();
    const original = errors.notFound('project', 'p-1');
    const error = new GraphQLError(original.message, { originalError: original });
    expect(formatGraphQLError(log)(formatted(original.message, 'INTERNAL_SERVER_ERROR'), error)).toEqual({
      message: "project 'p-1' was not found",
      path: ['project'],
      extensions: { code: ErrorCode.NotFound, details: { entity: 'project', id: 'p-1' } },
    });
    expect(lines).toEqual([]);
  });

  it('accepts a bare VigilError too', () => {
    const { log } = capturingLogger();
    const result = formatGraphQLError(log)(formatted('x'), errors.forbidden('no'));
    expect(result.extensions?.['code']).toBe(ErrorCode.Forbidden);
  });

  it('turns an unknown error into INTERNAL without leaking its message, and logs it', () => {
    const { log, lines } = capturingLogger();
    const secret = 'connection to postgres://admin:hunter2@db failed';
    const error = new GraphQLError(secret, { originalError: new Error(secret) });
    const result = formatGraphQLError(log)(formatted(secret, 'INTERNAL_SERVER_ERROR'), error);
    expect(result).toEqual({ message: 'Internal error', path: ['project'], extensions: { code: ErrorCode.Internal } });
    expect(JSON.stringify(result)).not.toContain('hunter2');
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines[0])).toContain('hunter2');
  });

  it('treats a thrown non-Error the same way', () => {
    const { log } = capturingLogger();
    expect(formatGraphQLError(log)(formatted('boom'), 'boom')).toMatchObject({
      message: 'Internal error',
      extensions: { code: ErrorCode.Internal },
    });
  });

  it("keeps Apollo's own public codes (validation, parse errors)", () => {
    const { log, lines } = capturingLogger();
    const validation = formatted('Cannot query field "nope"', 'GRAPHQL_VALIDATION_FAILED');
    expect(formatGraphQLError(log)(validation, new GraphQLError(validation.message))).toBe(validation);
    expect(lines).toEqual([]);
  });
});
