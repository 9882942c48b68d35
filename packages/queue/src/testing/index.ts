export { InMemoryJobStore } from './in-memory-job-store';
export { describeJobStoreContract, type JobStoreContractOptions } from './job-store-contract';
export { waitForJobStatus } from './wait';
export { createTestDatabase, type TestDatabase } from './postgres';
export { freePort, hasRedisServer, startPrivateRedis, type PrivateRedis } from './redis-server';
