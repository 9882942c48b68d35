import { openImageCatalog } from '@vigil/images';
import { createLogger, loadEnvironment, runMain, startSubgraphService, type RunningService } from '@vigil/service-kit';
import { createInferenceService, inferenceConfigFrom, type InferenceModule } from './module';
import { inferenceEnvironmentSchema } from './environment';

/**
 * The inference service on its own: its subgraph at /graphql and REST routes (both accepting only requests the
 * gateway signed), /healthz, /metrics (Prometheus), and the detection workers. `node dist/main.js` or
 * `vigil serve inference`.
 */
export async function main(
  variables: Record<string, string | undefined> = process.env,
  options: { handleSignals?: boolean } = {},
): Promise<RunningService> {
  const environment = loadEnvironment(inferenceEnvironmentSchema, variables);
  const log = createLogger({ name: 'inference', level: environment.LOG_LEVEL });
  let inference: InferenceModule | null = null;
  const running = await startSubgraphService({
    name: 'inference',
    environment,
    log,
    ...(options.handleSignals === undefined ? {} : { handleSignals: options.handleSignals }),
    build: ({ db, storage, jobs, audit }) => {
      const catalog = openImageCatalog(db, storage.store, {
        maxPixels: environment.IMAGE_MAX_PIXELS,
        maxBytes: environment.UPLOAD_MAX_BYTES,
      });
      const module = createInferenceService({
        db,
        store: storage.store,
        images: catalog,
        sources: storage.sources,
        jobs,
        audit,
        log,
        config: inferenceConfigFrom(environment, storage),
      });
      inference = module;
      return {
        subgraph: module.subgraph,
        registerWorkers: () => module.registerWorkers(),
        routes: (app, trusted) => {
          app.get('/metrics', async (_req, res) => {
            res.setHeader('content-type', module.metrics.contentType);
            res.end(await module.metrics.text());
          });
          app.use('/v1', trusted, module.router);
        },
      };
    },
  });
  return {
    ...running,
    stop: async () => {
      await running.stop();
      await (inference as InferenceModule | null)?.close();
    },
  };
}

if (require.main === module) runMain('inference', () => main());
