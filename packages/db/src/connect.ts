import { Kysely, PostgresDialect } from 'kysely';
import { PGlite, types as pgliteTypes } from '@electric-sql/pglite';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { Database } from './schema';

/** Where the database lives: an embedded PGlite (a folder, or memory) or a Postgres server. */
export type DatabaseLocation =
  | { readonly kind: 'embedded'; readonly dataDir: string | null }
  | { readonly kind: 'postgres'; readonly url: string; readonly poolSize?: number };

export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  readonly location: DatabaseLocation;
  close(): Promise<void>;
}

// int8 (bigint, count(*)) comes back as text from pg by default; our counts and sizes fit a double.
const INT8_OID = 20;
const NUMERIC_OID = 1700;

export async function openDatabase(location: DatabaseLocation): Promise<DatabaseHandle> {
  if (location.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: location.url,
      max: location.poolSize ?? 10,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
          if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
          return pg.types.getTypeParser(oid, format);
        }) as typeof pg.types.getTypeParser,
      },
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, location, close: () => db.destroy() };
  }

  const pglite = new PGlite(location.dataDir ?? undefined, {
    parsers: {
      [pgliteTypes.INT8]: (value: string) => Number(value),
      [pgliteTypes.NUMERIC]: (value: string) => Number(value),
    },
  });
  await pglite.waitReady;
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  return {
    db,
    location,
    close: async () => {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    },
  };
}
