import type { JobRow, JobStore } from '../types';

/** Polls until the job has one of `statuses`; for tests. */
export async function waitForJobStatus(
  store: JobStore,
  id: string,
  statuses: readonly string[],
  timeoutMs = 10_000,
): Promise<JobRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await store.get(id);
    if (row && statuses.includes(row.status)) return row;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${row?.status ?? 'missing'}, not ${statuses.join('|')}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
