import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { migrateToLatest, openDatabase, type DatabaseHandle } from '@vigil/db';
import { LocalDiskObjectStore, S3ObjectStore, SourceReader, createS3Client, type ObjectStore } from '@vigil/storage';
import type { Logger } from './logger';
import type { PlatformEnvironment } from './platform-environment';

/** The stateful things every Vigil process needs, chosen from the environment. */
export interface Storage {
  readonly database: DatabaseHandle;
  readonly store: ObjectStore;
  readonly sources: SourceReader;
  readonly allowLocalFiles: boolean;
  /** One line per resource, for the start-up log. */
  readonly description: Record<string, string>;
}

export async function openStorage(
  environment: PlatformEnvironment,
  options: { log: Logger; migrate: boolean; localImportsByDefault: boolean },
): Promise<Storage> {
  const dataDir = path.resolve(environment.VIGIL_DATA_DIR);
  const needsDataDir = !environment.DATABASE_URL || !environment.S3_BUCKET;
  if (needsDataDir) await mkdir(dataDir, { recursive: true, mode: 0o700 });

  const database = await openDatabase(
    environment.DATABASE_URL
      ? { kind: 'postgres', url: environment.DATABASE_URL, poolSize: environment.DATABASE_POOL_SIZE }
      : { kind: 'embedded', dataDir: path.join(dataDir, 'pg') },
  );
  if (options.migrate) {
    const report = await migrateToLatest(database.db);
    if (report.applied.length > 0) options.log.info({ applied: report.applied }, 'database migrated');
  }

  const s3Client = environment.S3_BUCKET
    ? createS3Client({
        region: environment.S3_REGION,
        ...(environment.S3_ENDPOINT ? { endpoint: environment.S3_ENDPOINT } : {}),
        forcePathStyle: environment.S3_FORCE_PATH_STYLE,
      })
    : undefined;
  const store: ObjectStore =
    environment.S3_BUCKET && s3Client
      ? new S3ObjectStore({ client: s3Client, bucket: environment.S3_BUCKET, prefix: environment.S3_PREFIX })
      : new LocalDiskObjectStore(path.join(dataDir, 'objects'));

  const sourceClient = customerS3Client(environment);

  const allowedRoots = environment.IMPORT_ALLOWED_ROOTS
    ? environment.IMPORT_ALLOWED_ROOTS.split(',')
        .map((root) => path.resolve(root.trim()))
        .filter(Boolean)
    : options.localImportsByDefault
      ? null
      : [];
  const allowLocalFiles = allowedRoots === null || allowedRoots.length > 0;
  const sources = new SourceReader({ s3Client: sourceClient, objectStore: store, allowedRoots });

  return {
    database,
    store,
    sources,
    allowLocalFiles,
    description: {
      database: environment.DATABASE_URL ? 'postgres (DATABASE_URL)' : `embedded PGlite at ${path.join(dataDir, 'pg')}`,
      objects: store.description,
      localImports: allowedRoots === null ? 'any folder' : allowedRoots.length ? allowedRoots.join(', ') : 'disabled',
    },
  };
}

type S3Settings = Pick<
  PlatformEnvironment,
  | 'S3_REGION'
  | 'S3_ENDPOINT'
  | 'S3_FORCE_PATH_STYLE'
  | 'SOURCE_S3_REGION'
  | 'SOURCE_S3_ENDPOINT'
  | 'SOURCE_S3_FORCE_PATH_STYLE'
>;

/**
 * The client for the customer's own buckets: folder and manifest imports, batches over an S3 prefix, Lookout
 * output locations and edge packages. SOURCE_S3_* when any is set (their buckets live elsewhere than ours),
 * otherwise the object store's S3_* settings, so one S3-compatible service can serve both.
 */
export function customerS3Client(environment: S3Settings): ReturnType<typeof createS3Client> {
  if (environment.SOURCE_S3_ENDPOINT || environment.SOURCE_S3_REGION) {
    return createS3Client({
      region: environment.SOURCE_S3_REGION ?? environment.S3_REGION,
      ...(environment.SOURCE_S3_ENDPOINT ? { endpoint: environment.SOURCE_S3_ENDPOINT } : {}),
      forcePathStyle: environment.SOURCE_S3_FORCE_PATH_STYLE,
    });
  }
  return createS3Client({
    region: environment.S3_REGION,
    ...(environment.S3_ENDPOINT ? { endpoint: environment.S3_ENDPOINT } : {}),
    forcePathStyle: environment.S3_FORCE_PATH_STYLE,
  });
}
