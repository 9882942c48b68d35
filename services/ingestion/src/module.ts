import type { Kysely } from 'kysely';
import type { Database } from '@vigil/db';
import { openImageCatalog, type ImageCatalog } from '@vigil/images';
import type { ObjectStore, SourceReader } from '@vigil/storage';
import type { AuditTrail, JobSystem, Logger, SubgraphDefinition } from '@vigil/service-kit';
import type { Router } from 'express';
import { typeDefs } from './graphql/type-defs';
import { ingestionResolvers } from './graphql/resolvers';
import { imagesRouter } from './http/images-router';
import { ImageEventPublisher, publishingCatalog } from './events/image-ingested';
import { ImageImporter } from './imports/importer';
import { ImageImportJobs } from './imports/jobs';
import { decodeImportImagesPayload, IngestionJobKind, IngestionQueue } from './imports/payloads';

export interface IngestionConfig {
  readonly maxUploadBytes: number;
  readonly maxImagePixels: number;
  /** Whether imports may read server-side folders. */
  readonly allowLocalFiles: boolean;
}

export interface IngestionDeps {
  readonly db: Kysely<Database>;
  readonly store: ObjectStore;
  readonly sources: SourceReader;
  readonly jobs: JobSystem;
  readonly audit: AuditTrail;
  readonly log: Logger;
  readonly config: IngestionConfig;
}

export interface IngestionService {
  readonly subgraph: SubgraphDefinition;
  /** `POST /images`, `GET /images/:id/content`; mount behind gateway trust. */
  readonly router: Router;
  readonly catalog: ImageCatalog;
  /** Registers this service's job handlers on the job system (in processes that run workers). */
  registerWorkers(): void;
}

export function createIngestionService(deps: IngestionDeps): IngestionService {
  const catalog = openImageCatalog(deps.db, deps.store, {
    maxPixels: deps.config.maxImagePixels,
    maxBytes: deps.config.maxUploadBytes,
  });
  const imports = new ImageImportJobs(deps.jobs, deps.audit);
  // Uploads and bulk imports announce each new image (ImageIngested) for automatic inspection.
  const announcing = publishingCatalog(catalog, new ImageEventPublisher(deps.jobs));
  const importer = new ImageImporter(announcing, deps.sources, {
    maxImageBytes: deps.config.maxUploadBytes,
    allowLocalFiles: deps.config.allowLocalFiles,
  });
  return {
    subgraph: { name: 'ingestion', typeDefs, resolvers: ingestionResolvers({ catalog, imports }) },
    router: imagesRouter({ catalog: announcing, maxUploadBytes: deps.config.maxUploadBytes, log: deps.log }),
    catalog,
    registerWorkers: () => {
      deps.jobs.register(IngestionQueue.Imports, IngestionJobKind.ImportImages, (payload, context) =>
        importer.run(decodeImportImagesPayload(payload), context),
      );
    },
  };
}
