import { z } from 'zod';
import { errors } from '@vigil/contracts';

/** Keyset cursors: opaque to clients, `(createdAt, id)` inside, stable under inserts. */
const CursorSchema = z.object({ t: z.string(), id: z.string() });
export interface Cursor {
  readonly createdAt: Date;
  readonly id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify({ t: cursor.createdAt.toISOString(), id: cursor.id })).toString('base64url');
}

export function decodeCursor(value: string | null | undefined): Cursor | null {
  if (value === null || value === undefined || value === '') return null;
  try {
    const parsed = CursorSchema.parse(JSON.parse(Buffer.from(value, 'base64url').toString('utf8')));
    const createdAt = new Date(parsed.t);
    if (Number.isNaN(createdAt.getTime())) throw new Error('bad date');
    return { createdAt, id: parsed.id };
  } catch {
    throw errors.badInput('invalid pagination cursor', { cursor: value });
  }
}

export interface Page<T> {
  readonly nodes: readonly T[];
  readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
}

export const MAX_PAGE_SIZE = 500;

export function pageSize(first: number | null | undefined, fallback = 50): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
    throw errors.badInput(`first must be between 1 and ${MAX_PAGE_SIZE}`, { first: n });
  }
  return n;
}

/** Given `limit + 1` rows in order, the page of `limit` and whether there is more. */
export function toPage<T extends { created_at: Date; id: string }, N>(
  rows: readonly T[],
  limit: number,
  map: (row: T) => N,
): Page<N> {
  const hasNextPage = rows.length > limit;
  const pageRows = rows.slice(0, limit);
  const last = pageRows[pageRows.length - 1];
  return {
    nodes: pageRows.map(map),
    pageInfo: { hasNextPage, endCursor: last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null },
  };
}
