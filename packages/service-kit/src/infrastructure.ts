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

  const sourceClient =
    environment.SOURCE_S3_ENDPOINT || environment.SOURCE_S3_REGION
      ? createS3Client({
          region: environment.SOURCE_S3_REGION ?? environment.S3_REGION,
          ...(environment.SOURCE_S3_ENDPOINT ? { endpoint: environment.SOURCE_S3_ENDPOINT } : {}),
          forcePathStyle: environment.SOURCE_S3_FORCE_PATH_STYLE,
        })
      : (s3Client ?? createS3Client({ region: environment.S3_REGION }));

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
