import { migrateToLatest, openDatabase } from '@vigil/db';
import { loadEnvironment, platformEnvironmentSchema } from '@vigil/service-kit';
import path from 'node:path';

/** Brings the database to the latest schema: DATABASE_URL, or the embedded one under the data directory. */
export async function migrateCommand(options: { dataDir?: string }): Promise<void> {
  const environment = loadEnvironment(platformEnvironmentSchema, {
    ...process.env,
    ...(options.dataDir ? { VIGIL_DATA_DIR: options.dataDir } : {}),
  });
  const handle = await openDatabase(
    environment.DATABASE_URL
      ? { kind: 'postgres', url: environment.DATABASE_URL }
      : { kind: 'embedded', dataDir: path.join(path.resolve(environment.VIGIL_DATA_DIR), 'pg') },
  );
  try {
    const report = await migrateToLatest(handle.db);
    process.stdout.write(
      report.applied.length ? `applied: ${report.applied.join(', ')}\n` : 'the database is up to date\n',
    );
  } finally {
    await handle.close();
  }
}
