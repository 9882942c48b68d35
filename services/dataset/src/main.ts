import { openImageCatalog } from '@vigil/images';
import { createLogger, loadEnvironment, runMain, startSubgraphService, type RunningService } from '@vigil/service-kit';
import { createDatasetService } from './module';
import { datasetEnvironmentSchema } from './environment';

/**
 * The dataset service on its own: its subgraph at /graphql (accepting only requests the gateway signed),
 * /healthz, and the manifest and folder import workers. `node dist/main.js` or `vigil serve dataset`.
 */
export async function main(
  variables: Record<string, string | undefined> = process.env,
  options: { handleSignals?: boolean } = {},
): Promise<RunningService> {
  const environment = loadEnvironment(datasetEnvironmentSchema, variables);
  const log = createLogger({ name: 'dataset', level: environment.LOG_LEVEL });
  return startSubgraphService({
    name: 'dataset',
    environment,
    log,
    ...(options.handleSignals === undefined ? {} : { handleSignals: options.handleSignals }),
    build: ({ db, storage, jobs, audit }) => {
      // The image catalogue is a shared library over the shared database and store: imports write images
      // through it exactly as the ingestion service does, with the same limits and deduplication.
      const catalog = openImageCatalog(db, storage.store, {
        maxPixels: environment.IMAGE_MAX_PIXELS,
        maxBytes: environment.UPLOAD_MAX_BYTES,
      });
      const dataset = createDatasetService({
        db,
        store: storage.store,
        sources: storage.sources,
        catalog,
        jobs,
        audit,
        log,
        config: {
          maxImageBytes: environment.UPLOAD_MAX_BYTES,
          maxManifestBytes: environment.MANIFEST_MAX_BYTES,
          maxImagePixels: environment.IMAGE_MAX_PIXELS,
          allowLocalFiles: storage.allowLocalFiles,
        },
      });
      return { subgraph: dataset.subgraph, registerWorkers: () => dataset.registerWorkers() };
    },
  });
}

if (require.main === module) runMain('dataset', () => main());
