import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the integration tier finds its services: URLs from the environment (CI points them at the machine's
 * Postgres and Redis), otherwise nothing, and the tests that need them skip with a message. (Where a Docker
 * daemon exists, testcontainers could start them; this machine has none, see packages/storage's MinIO test.)
 */
export const testDatabaseUrl = process.env['VIGIL_TEST_DATABASE_URL'] ?? null;
export const testRedisUrl = process.env['VIGIL_TEST_REDIS_URL'] ?? null;

/** ../shared/datasets/cookies beside the repository, when present. */
export const cookiesDir = (() => {
  const dir = path.resolve(__dirname, '../../../shared/datasets/cookies');
  return existsSync(path.join(dir, 'template.manifest')) ? dir : null;
})();

export function skipMessage(what: string, need: string): string {
  return `skipped ${what}: ${need}`;
}
