import type { Migration, MigrationProvider } from 'kysely';
import * as m0001 from './0001_foundation';
import * as m0002 from './0002_models';
import * as m0003 from './0003_inspections';
import * as m0004 from './0004_lookout';
import * as m0005 from './0005_inference_workers';
import * as m0006 from './0006_batch_expansion';

/** Migrations in order. Names are permanent: never rename or edit one that has shipped. */
const MIGRATIONS: Record<string, Migration> = {
  '0001_foundation': m0001,
  '0002_models': m0002,
  '0003_inspections': m0003,
  '0004_lookout': m0004,
  '0005_inference_workers': m0005,
  '0006_batch_expansion': m0006,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
