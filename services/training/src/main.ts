import { openImageCatalog } from '@vigil/images';
import {
  createLogger,
  customerS3Client,
  loadEnvironment,
  runMain,
  startSubgraphService,
  type RunningService,
} from '@vigil/service-kit';
import { createTrainingService } from './module';
import { s3PackageWriter } from './packaging/s3-writer';
import { trainingEnvironmentSchema } from './environment';

/**
 * The training service on its own: its subgraph at /graphql (accepting only requests the gateway signed),
 * /healthz, and the training workers. `node dist/main.js` or `vigil serve training`.
 */
export async function main(
  variables: Record<string, string | undefined> = process.env,
  options: { handleSignals?: boolean } = {},
): Promise<RunningService> {
  const environment = loadEnvironment(trainingEnvironmentSchema, variables);
  const log = createLogger({ name: 'training', level: environment.LOG_LEVEL });
  return startSubgraphService({
    name: 'training',
    environment,
    log,
    ...(options.handleSignals === undefined ? {} : { handleSignals: options.handleSignals }),
    build: ({ db, storage, jobs, audit }) => {
      // Training reads image bytes through the catalogue, which checks them against their digest.
      const catalog = openImageCatalog(db, storage.store, {
        maxPixels: environment.IMAGE_MAX_PIXELS,
        maxBytes: environment.UPLOAD_MAX_BYTES,
      });
      const training = createTrainingService({
        db,
        store: storage.store,
        images: catalog,
        jobs,
        audit,
        log,
        config: { engineThreads: environment.TRAINING_THREADS, maxMaskBytes: environment.UPLOAD_MAX_BYTES },
        // Edge packages go to the customer's bucket, with the same client settings as manifest imports.
        packageWriter: s3PackageWriter(customerS3Client(environment)),
      });
      return { subgraph: training.subgraph, registerWorkers: () => training.registerWorkers() };
    },
  });
}

if (require.main === module) runMain('training', () => main());
