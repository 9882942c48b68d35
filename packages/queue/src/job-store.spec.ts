import { afterAll } from '@jest/globals';
import { migrateToLatest, openDatabase, type DatabaseHandle, type Kysely } from '@vigil/db';
import { JobRepository } from './job-repository';
import { InMemoryJobStore } from './testing/in-memory-job-store';
import { describeJobStoreContract } from './testing/job-store-contract';

describeJobStoreContract('InMemoryJobStore', { create: async () => new InMemoryJobStore() });

let handle: Promise<DatabaseHandle> | undefined;
async function pglite(): Promise<DatabaseHandle> {
  handle ??= (async () => {
    const opened = await openDatabase({ kind: 'embedded', dataDir: null });
    // migrateToLatest takes Kysely<unknown>, which Kysely<Database> is not assignable to.
    await migrateToLatest(opened.db as unknown as Kysely<unknown>);
    return opened;
  })();
  return handle;
}
afterAll(async () => {
  if (handle) await (await handle).close();
});

describeJobStoreContract('JobRepository on embedded PGlite', {
  create: async () => new JobRepository((await pglite()).db),
});
