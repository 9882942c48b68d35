import type { Kysely } from 'kysely';
import type { Database } from '@vigil/db';
import { errors, type Principal } from '@vigil/contracts';
import { probeImage, type ImageCatalog } from '@vigil/images';
import { putContentAddressed, type ObjectStore, type SourceReader } from '@vigil/storage';
import type { AuditTrail, JobSystem, Logger, SubgraphDefinition } from '@vigil/service-kit';
import { typeDefs } from './graphql/type-defs';
import { datasetResolvers } from './graphql/resolvers';
import { DatasetService, type ImageLookup } from './domain/datasets';
import { ProjectService, type Transactor } from './domain/projects';
import { ManifestExporter } from './domain/manifest-export';
import { KyselyProjectRepository } from './repositories/projects';
import { KyselyDatasetRepository } from './repositories/datasets';
import { KyselyEntryRepository } from './repositories/entries';
import { DatasetImporter } from './imports/importer';
import { DatasetImportJobs } from './imports/jobs';
import {
  DatasetJobKind,
  DatasetQueue,
  decodeImportFolderPayload,
  decodeImportManifestPayload,
} from './imports/payloads';
import type { ImageIntake, MaskIntake } from './imports/ports';

export interface DatasetConfig {
  readonly maxImageBytes: number;
  readonly maxManifestBytes: number;
  readonly maxImagePixels: number;
  readonly allowLocalFiles: boolean;
}

export interface DatasetDeps {
  readonly db: Kysely<Database>;
  readonly store: ObjectStore;
  readonly sources: SourceReader;
  /** The image catalogue: the one writer of images (shared library, same database). */
  readonly catalog: ImageCatalog;
  readonly jobs: JobSystem;
  readonly audit: AuditTrail;
  readonly log: Logger;
  readonly config: DatasetConfig;
}

export interface DatasetModule {
  readonly subgraph: SubgraphDefinition;
  readonly projects: ProjectService;
  readonly datasets: DatasetService;
  registerWorkers(): void;
}

export function createDatasetService(deps: DatasetDeps): DatasetModule {
  const tx: Transactor = { transaction: (work) => deps.db.transaction().execute(work) };
  const projects = new ProjectService(new KyselyProjectRepository(deps.db), deps.audit, tx);
  const imageLookup: ImageLookup = {
    missing: async (ids) => {
      const found = await deps.catalog.getMany(ids);
      return ids.filter((_, i) => found[i] === null);
    },
  };
  const datasets = new DatasetService(
    projects,
    new KyselyDatasetRepository(deps.db),
    new KyselyEntryRepository(deps.db),
    imageLookup,
    deps.audit,
    tx,
  );
  const imports = new DatasetImportJobs(deps.jobs, projects, deps.audit);
  const exporter = new ManifestExporter(datasets);

  const images: ImageIntake = {
    ingest: async ({ bytes, originalName, actor }: { bytes: Buffer; originalName?: string; actor: Principal }) => {
      const result = await deps.catalog.ingest({ bytes, originalName: originalName ?? null, actor });
      return { imageId: result.image.id, deduplicated: result.deduplicated };
    },
  };
  const masks: MaskIntake = {
    store: async (bytes) => {
      const probe = await probeImage(bytes, {
        maxPixels: deps.config.maxImagePixels,
        maxBytes: deps.config.maxImageBytes,
      });
      if (probe.format !== 'png')
        throw errors.invalidImage(`a mask must be a PNG; this one is ${probe.format.toUpperCase()}`);
      const stored = await putContentAddressed(deps.store, bytes, { contentType: 'image/png' });
      return { objectKey: stored.objectKey };
    },
  };
  const importer = new DatasetImporter(projects, datasets, images, masks, deps.sources, {
    maxImageBytes: deps.config.maxImageBytes,
    maxManifestBytes: deps.config.maxManifestBytes,
    allowLocalFiles: deps.config.allowLocalFiles,
  });

  return {
    subgraph: { name: 'dataset', typeDefs, resolvers: datasetResolvers({ projects, datasets, imports, exporter }) },
    projects,
    datasets,
    registerWorkers: () => {
      deps.jobs.register(DatasetQueue.Imports, DatasetJobKind.ImportManifest, (payload, context) =>
        importer.importManifest(decodeImportManifestPayload(payload), context),
      );
      deps.jobs.register(DatasetQueue.Imports, DatasetJobKind.ImportFolder, (payload, context) =>
        importer.importFolder(decodeImportFolderPayload(payload), context),
      );
    },
  };
}
