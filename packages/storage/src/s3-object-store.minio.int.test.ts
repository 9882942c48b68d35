import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe } from '@jest/globals';
import type { StartedTestContainer } from 'testcontainers';
import { createS3Client, S3ObjectStore } from './s3-object-store';
import { describeObjectStoreContract } from './testing/object-store-contract';

const MINIO_IMAGE = 'minio/minio:RELEASE.2025-04-22T22-12-26Z';
const DOCKER_SOCKET = '/var/run/docker.sock';

/**
 * Cheap and synchronous, because jest decides on skipping while collecting tests: with DOCKER_HOST set
 * we trust it (testcontainers reads it too); otherwise the default socket must answer /_ping.
 */
function dockerReachable(): { ok: true } | { ok: false; reason: string } {
  if (process.env.DOCKER_HOST) return { ok: true };
  if (!existsSync(DOCKER_SOCKET)) return { ok: false, reason: `no DOCKER_HOST and no ${DOCKER_SOCKET}` };
  const ping = spawnSync(
    process.execPath,
    [
      '-e',
      `require('http').get({ socketPath: ${JSON.stringify(DOCKER_SOCKET)}, path: '/_ping', timeout: 2000 },
        (res) => process.exit(res.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))
        .on('timeout', () => process.exit(1));`,
    ],
    { timeout: 5000, env: { ...process.env, NODE_OPTIONS: '' } },
  );
  return ping.status === 0 ? { ok: true } : { ok: false, reason: `${DOCKER_SOCKET} does not answer /_ping` };
}

const docker = dockerReachable();
if (!docker.ok) {
  console.warn(`Skipping the MinIO object store tests: no Docker daemon reachable (${docker.reason}).`);
}

(docker.ok ? describe : describe.skip)('S3ObjectStore against MinIO (testcontainers)', () => {
  let container: StartedTestContainer | undefined;
  let client: S3Client | undefined;
  const bucket = 'vigil-minio-test';
  let storeCount = 0;

  beforeAll(async () => {
    const { GenericContainer, Wait } = await import('testcontainers');
    container = await new GenericContainer(MINIO_IMAGE)
      .withCommand(['server', '/data'])
      .withEnvironment({ MINIO_ROOT_USER: 'vigil', MINIO_ROOT_PASSWORD: 'vigil-secret' })
      .withExposedPorts(9000)
      .withWaitStrategy(Wait.forHttp('/minio/health/live', 9000))
      .start();
    client = createS3Client({
      endpoint: `http://${container.getHost()}:${container.getMappedPort(9000)}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'vigil', secretAccessKey: 'vigil-secret' },
    });
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  }, 120_000);

  afterAll(async () => {
    client?.destroy();
    await container?.stop();
  });

  describeObjectStoreContract('S3ObjectStore (MinIO)', {
    create: async () => {
      if (!client) throw new Error('MinIO did not start');
      return new S3ObjectStore({ client, bucket, prefix: `contract/${++storeCount}`, pageSize: 2 });
    },
    preservesContentType: true,
  });
});
