import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { InProcessTransport } from './in-process-transport';
import { JobRepository } from './job-repository';
import { JobRunner } from './job-runner';
import { describeJobStoreContract } from './testing/job-store-contract';
import { createTestDatabase, type TestDatabase } from './testing/postgres';
import { waitForJobStatus } from './testing/wait';
import { JobStatus } from './types';

const baseUrl = process.env.VIGIL_TEST_DATABASE_URL;
if (!baseUrl) console.warn('Skipping JobRepository Postgres tests: VIGIL_TEST_DATABASE_URL is not set.');

(baseUrl ? describe : describe.skip)('JobRepository on Postgres', () => {
  let database: TestDatabase | undefined;

  beforeAll(async () => {
    database = await createTestDatabase(baseUrl ?? '', 'vigil_queue_test');
  });

  afterAll(async () => {
    await database?.drop();
  });

  const repository = () => {
    if (!database) throw new Error('database not open');
    return new JobRepository(database.handle.db);
  };

  describeJobStoreContract('JobRepository on Postgres', { create: async () => repository() });

  it('runs jobs end to end with the in-process transport', async () => {
    const store = repository();
    const runner = new JobRunner({ store, transport: new InProcessTransport(), backoff: { baseMs: 1 } });
    runner.register('pg-e2e', 'work', async (payload: { n: number }, { progress, attempt }) => {
      progress(1, 2, 'half');
      if (attempt === 1) throw new Error('transient');
      return { doubled: payload.n * 2 };
    });
    await runner.start();
    try {
      const job = await runner.submit({ queue: 'pg-e2e', kind: 'work', payload: { n: 21 }, createdBy: 'tester' });
      const done = await waitForJobStatus(store, job.id, [JobStatus.Succeeded, JobStatus.Failed]);
      expect(done).toMatchObject({
        status: JobStatus.Succeeded,
        attempts: 2,
        summary: { doubled: 42 },
        progress_done: 1,
      });
    } finally {
      await runner.close();
    }
  });
});
