import { createLogger, loadEnvironment, runMain, startSubgraphService, type RunningService } from '@vigil/service-kit';
import { createIngestionService } from './module';
import { ingestionEnvironmentSchema } from './environment';

/**
 * The ingestion service on its own: its subgraph at /graphql, image bytes at /v1/images (both accepting only
 * requests the gateway signed), /healthz, and the image-import workers. `node dist/main.js` or
 * `vigil serve ingestion`.
 */
export async function main(
  variables: Record<string, string | undefined> = process.env,
  options: { handleSignals?: boolean } = {},
): Promise<RunningService> {
  const environment = loadEnvironment(ingestionEnvironmentSchema, variables);
  const log = createLogger({ name: 'ingestion', level: environment.LOG_LEVEL });
  return startSubgraphService({
    name: 'ingestion',
    environment,
    log,
    ...(options.handleSignals === undefined ? {} : { handleSignals: options.handleSignals }),
    build: ({ db, storage, jobs, audit }) => {
      const ingestion = createIngestionService({
        db,
        store: storage.store,
        sources: storage.sources,
        jobs,
        audit,
        log,
        config: {
          maxUploadBytes: environment.UPLOAD_MAX_BYTES,
          maxImagePixels: environment.IMAGE_MAX_PIXELS,
          allowLocalFiles: storage.allowLocalFiles,
        },
      });
      return {
        subgraph: ingestion.subgraph,
        registerWorkers: () => ingestion.registerWorkers(),
        // The gateway proxies /v1/images* here after authenticating the caller and signing the identity.
        routes: (app, trusted) => app.use('/v1', trusted, ingestion.router),
      };
    },
  });
}

if (require.main === module) runMain('ingestion', () => main());
