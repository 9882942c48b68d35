import { z } from 'zod';
import { errors } from '@vigil/contracts';
import type { ListPosition } from './types';

const CursorSchema = z.object({
  // ISO 8601 UTC, as Date.toISOString writes it (microseconds tolerated).
  t: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/),
  i: z.string().regex(/^[0-9a-f]{64}$/),
});

/** Cursors are opaque to callers: base64url of the last row's position. */
export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify({ t: position.createdAt, i: position.id }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): ListPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw errors.badInput('invalid cursor', { cursor });
  }
  const result = CursorSchema.safeParse(parsed);
  if (!result.success) throw errors.badInput('invalid cursor', { cursor });
  return { createdAt: result.data.t, id: result.data.i };
}
