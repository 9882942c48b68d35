import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { EnvironmentError, env, loadEnvironment } from './environment';

const schema = z.object({
  PORT: env.port(4000),
  VERBOSE: env.bool(false),
  LOG_LEVEL: env.logLevel(),
  DATABASE_URL: env.url(),
  MAX_BYTES: env.bytes(1024),
  SECRET: env.secret(),
});

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EnvironmentError);
    return (error as EnvironmentError).problems;
  }
  throw new Error('expected an EnvironmentError');
}

describe('loadEnvironment', () => {
  const valid = { DATABASE_URL: 'postgres://db/vigil', SECRET: 'k'.repeat(32) };

  it('parses, coerces and applies defaults', () => {
    expect(loadEnvironment(schema, { ...valid, PORT: '8080', VERBOSE: 'yes', MAX_BYTES: '2048' })).toEqual({
      PORT: 8080,
      VERBOSE: true,
      LOG_LEVEL: 'info',
      DATABASE_URL: 'postgres://db/vigil',
      MAX_BYTES: 2048,
      SECRET: 'k'.repeat(32),
    });
  });

  it('treats empty strings as unset, so defaults apply', () => {
    expect(loadEnvironment(schema, { ...valid, PORT: '', LOG_LEVEL: '' })).toMatchObject({
      PORT: 4000,
      LOG_LEVEL: 'info',
    });
  });

  it('lists every problem, each with its variable name, not just the first', () => {
    const problems = problemsOf(() =>
      loadEnvironment(schema, { PORT: '70000', VERBOSE: 'maybe', LOG_LEVEL: 'loud', MAX_BYTES: '-1', SECRET: 'short' }),
    );
    const names = problems.map((p) => p.split(':')[0]);
    expect(names.sort()).toEqual(['DATABASE_URL', 'LOG_LEVEL', 'MAX_BYTES', 'PORT', 'SECRET', 'VERBOSE']);
    expect(problems).toContain('SECRET: must be at least 32 characters');
  });

  it('puts every problem in the error message', () => {
    let message = '';
    try {
      loadEnvironment(schema, { SECRET: 'short' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration:\n/);
    expect(message).toMatch(/ {2}- DATABASE_URL: /);
    expect(message).toMatch(/ {2}- SECRET: must be at least 32 characters/);
  });

  it('names root-level problems "(root)"', () => {
    const refined = z.object({ A: z.string().optional() }).refine((v) => v.A !== undefined, 'A is required');
    expect(problemsOf(() => loadEnvironment(refined, {}))).toEqual(['(root): A is required']);
  });
});
