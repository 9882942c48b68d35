import type { Kysely } from 'kysely';
import type { Database } from '@vigil/db';
import type { ObjectStore } from '@vigil/storage';
import { ImageCatalog } from './image-catalog';
import { KyselyImageRepository } from './kysely-image-repository';

/**
 * The image catalogue over the shared database and object store, as every service builds it: each process
 * that reads or writes images (ingestion, dataset imports, training, inference) uses the same limits.
 */
export function openImageCatalog(
  db: Kysely<Database>,
  store: ObjectStore,
  limits: { readonly maxPixels: number; readonly maxBytes: number },
): ImageCatalog {
  return new ImageCatalog({ images: new KyselyImageRepository(db), store, limits });
}
