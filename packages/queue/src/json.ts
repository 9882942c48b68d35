import { errors } from '@vigil/contracts';

/**
 * The JSON value a store will hand back for `value` (Dates become strings, undefined properties vanish),
 * so the in-memory fake and Postgres agree. Anything JSON cannot express is BAD_USER_INPUT.
 */
export function toJsonValue(value: unknown, what: string): unknown {
  let text: string | undefined;
  try {
    text = JSON.stringify(value === undefined ? null : value);
  } catch (error) {
    throw errors.badInput(
      `${what} is not JSON-serialisable: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (text === undefined) throw errors.badInput(`${what} is not JSON-serialisable`);
  return JSON.parse(text) as unknown;
}

/** JSON with object keys sorted, for comparing values whatever their key order (jsonb reorders keys). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, inner]) => [key, sortKeys(inner)]),
    );
  }
  return value;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Cursors are opaque to callers: the id of the last row of the page. */
export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isUuid(id)) throw errors.badInput('invalid cursor', { cursor });
  return id.toLowerCase();
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw errors.badInput(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}`, { limit });
  }
  return limit;
}

export function asList<T>(value: T | readonly T[] | undefined): readonly T[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}
