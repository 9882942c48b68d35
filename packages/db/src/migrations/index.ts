import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001_foundation';
import * as m0002 from './0002_models';
import * as m0003 from './0003_inspections';

/** Migrations in order. Names are permanent: never rename or edit one that has shipped. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_models': m0002,
  '0003_inspections': m0003,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
