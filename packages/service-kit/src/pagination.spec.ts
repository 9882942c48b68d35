import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@vigil/contracts';
import { MAX_PAGE_SIZE, decodeCursor, encodeCursor, pageSize, toPage } from './pagination';

function failure(run: () => unknown): { code: string; details?: unknown } {
  try {
    run();
  } catch (error) {
    return error as { code: string; details?: unknown };
  }
  throw new Error('expected a failure');
}

describe('cursors', () => {
  it('round-trip createdAt to the millisecond and the id', () => {
    const cursor = { createdAt: new Date('2024-05-01T10:00:00.123Z'), id: '0b7e5d3c-1f1a-4c1e-9a51-2d7f3f3f3f3f' };
    const encoded = encodeCursor(cursor);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(encoded)).toEqual(cursor);
  });

  it('treat null, undefined and empty as "from the start"', () => {
    expect(decodeCursor(null)).toBeNull();
    expect(decodeCursor(undefined)).toBeNull();
    expect(decodeCursor('')).toBeNull();
  });

  it.each([
    ['not base64 JSON', '!!!'],
    ['JSON of the wrong shape', Buffer.from(JSON.stringify({ x: 1 })).toString('base64url')],
    ['an invalid date', Buffer.from(JSON.stringify({ t: 'yesterday', id: 'a' })).toString('base64url')],
    ['a non-string id', Buffer.from(JSON.stringify({ t: '2024-01-01T00:00:00Z', id: 5 })).toString('base64url')],
  ])('refuse %s with BAD_USER_INPUT naming the cursor', (_what, value) => {
    expect(failure(() => decodeCursor(value))).toMatchObject({
      code: ErrorCode.BadUserInput,
      details: { cursor: value },
    });
  });
});

describe('pageSize', () => {
  it('defaults and accepts 1..MAX_PAGE_SIZE', () => {
    expect(pageSize(undefined)).toBe(50);
    expect(pageSize(null, 10)).toBe(10);
    expect(pageSize(1)).toBe(1);
    expect(pageSize(MAX_PAGE_SIZE)).toBe(MAX_PAGE_SIZE);
  });

  it.each([0, -1, 1.5, MAX_PAGE_SIZE + 1, Number.NaN])('refuses %p', (first) => {
    expect(failure(() => pageSize(first)).code).toBe(ErrorCode.BadUserInput);
  });
});

describe('toPage', () => {
  const rows = [1, 2, 3].map((n) => ({ id: `id-${n}`, created_at: new Date(Date.UTC(2024, 0, n)), n }));

  it('given limit + 1 rows, returns limit nodes, hasNextPage and the cursor of the last node', () => {
    const page = toPage(rows, 2, (r) => r.n);
    expect(page.nodes).toEqual([1, 2]);
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(decodeCursor(page.pageInfo.endCursor)).toEqual({ createdAt: rows[1]!.created_at, id: 'id-2' });
  });

  it('says there is no next page when rows fit', () => {
    const page = toPage(rows, 3, (r) => r.n);
    expect(page.nodes).toEqual([1, 2, 3]);
    expect(page.pageInfo.hasNextPage).toBe(false);
    expect(decodeCursor(page.pageInfo.endCursor)?.id).toBe('id-3');
  });

  it('has a null endCursor for an empty page', () => {
    expect(toPage([], 5, (r: (typeof rows)[number]) => r.n)).toEqual({
      nodes: [],
      pageInfo: { hasNextPage: false, endCursor: null },
    });
  });
});
