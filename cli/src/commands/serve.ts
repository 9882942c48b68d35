/**
 * `vigil serve <service>`: runs one service of the distributed mode in this process, configured by its
 * environment exactly like `node <service>/dist/main.js` (each service's README lists the variables).
 * Services load lazily, so `vigil serve dataset` does not load the gateway, and the other way round.
 */
export const SERVABLE = ['gateway', 'ingestion', 'dataset', 'training', 'inference'] as const;
export type Servable = (typeof SERVABLE)[number];

const loaders: Record<Servable, () => Promise<{ main: () => Promise<unknown> }>> = {
  gateway: () => import('@vigil/gateway/dist/main.js'),
  ingestion: () => import('@vigil/ingestion-service/dist/main.js'),
  dataset: () => import('@vigil/dataset-service/dist/main.js'),
  training: () => import('@vigil/training-service/dist/main.js'),
  inference: () => import('@vigil/inference-service/dist/main.js'),
};

export async function serveCommand(service: Servable): Promise<void> {
  const { main } = await loaders[service]();
  // main() installs its own SIGTERM/SIGINT handling; the process lives as long as the server does.
  await main();
}
