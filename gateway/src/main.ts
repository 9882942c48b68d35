import { createLogger, loadEnvironment, onShutdown, runMain } from '@vigil/service-kit';
import { gatewayEnvironmentSchema } from './environment';
import { startDistributedGateway, type RunningGateway } from './distributed/gateway';

/**
 * The gateway on its own (distributed mode): `node gateway/dist/main.js` or `vigil serve gateway`.
 * The one-process mode is `vigil start` (platform/platform.ts).
 */
export async function main(
  variables: Record<string, string | undefined> = process.env,
  options: { handleSignals?: boolean } = {},
): Promise<RunningGateway> {
  const environment = loadEnvironment(gatewayEnvironmentSchema, variables);
  const log = createLogger({ name: 'gateway', level: environment.LOG_LEVEL });
  const running = await startDistributedGateway(environment, log);
  if (options.handleSignals ?? true) onShutdown(log, () => running.stop());
  return running;
}

if (require.main === module) runMain('gateway', () => main());
