import { expressionBuilder, type SelectQueryBuilder } from 'kysely';

/** Where the previous page ended: the last row's `(created_at, id)`. */
export interface KeysetCursor {
  readonly createdAt: Date;
  readonly id: string;
}

/** The two columns every keyset-paged table has; only used to type the detached expressions below. */
interface KeysetColumns {
  created_at: Date;
  id: string;
}

// A detached builder over a one-table stand-in schema, so the condition and ordering are typed once and
// apply to any query on a table with these columns. References stay unqualified, as they were inline.
const keyset = expressionBuilder<{ keyset: KeysetColumns }, 'keyset'>();

/**
 * One page in `(created_at, id)` order, starting after `after` (or at the start when null). Rows written in
 * one transaction share created_at, so id breaks ties. Fetches `limit + 1` rows: the extra one tells
 * `toPage` whether there is a next page.
 */
export function keysetPage<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  after: KeysetCursor | null,
  limit: number,
): SelectQueryBuilder<DB, TB, O> {
  const from = after
    ? query.where(
        keyset.or([
          keyset('created_at', '>', after.createdAt),
          keyset.and([keyset('created_at', '=', after.createdAt), keyset('id', '>', after.id)]),
        ]),
      )
    : query;
  return from
    .orderBy(keyset.ref('created_at'))
    .orderBy(keyset.ref('id'))
    .limit(limit + 1);
}
