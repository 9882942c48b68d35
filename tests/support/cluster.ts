import { randomBytes } from 'node:crypto';
import { Cluster as VigilCluster, type ClusterOptions as VigilClusterOptions } from '@vigil/cluster';
import { startS3rver, S3RVER_CREDENTIALS, type RunningS3rver } from '@vigil/storage/testing';
import { testDatabaseUrl, testRedisUrl } from './environment';

/**
 * Vigil in distributed mode for cross-service tests (@vigil/cluster: a fresh Postgres database, BullMQ on Redis
 * under a unique prefix, each service as its own `dist/main.js`), with objects on an S3 server on loopback
 * (s3rver). Needs `npm run build` first and VIGIL_TEST_DATABASE_URL / VIGIL_TEST_REDIS_URL.
 */

export { startProcess, type ClusterProcess, type ServiceName } from '@vigil/cluster';

export type ClusterOptions = Omit<VigilClusterOptions, 'databaseServerUrl' | 'redisUrl' | 'objectStore'> & {
  /** Redis for the queues (default VIGIL_TEST_REDIS_URL), e.g. a private redis-server a test restarts. */
  readonly redisUrl?: string;
};

export function clusterAvailable(): boolean {
  return Boolean(testDatabaseUrl && testRedisUrl);
}

export class Cluster extends VigilCluster {
  private constructor(
    options: VigilClusterOptions,
    readonly s3: RunningS3rver,
    readonly bucket: string,
  ) {
    super(options);
  }

  /** Starts s3rver and its bucket, then the cluster (database, first admin key, services, gateway). */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    if (!testDatabaseUrl || !testRedisUrl)
      throw new Error('a cluster needs VIGIL_TEST_DATABASE_URL and VIGIL_TEST_REDIS_URL');
    const s3 = await startS3rver();
    try {
      const bucket = `vigil-${randomBytes(5).toString('hex')}`;
      await s3.createBucket(bucket);
      const cluster = new Cluster(
        {
          ...options,
          databaseServerUrl: testDatabaseUrl,
          redisUrl: options.redisUrl ?? testRedisUrl,
          objectStore: { kind: 's3', endpoint: s3.endpoint, bucket, ...S3RVER_CREDENTIALS },
        },
        s3,
        bucket,
      );
      await cluster.start();
      return cluster;
    } catch (error) {
      await s3.stop().catch(() => undefined);
      throw error;
    }
  }

  override async stop(): Promise<void> {
    try {
      await super.stop();
    } finally {
      await this.s3.stop().catch(() => undefined);
    }
  }
}
