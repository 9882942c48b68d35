import { loadEnvironment, platformEnvironmentSchema, silentLogger } from '@vigil/service-kit';
import { startPlatform, type RunningPlatform } from '@vigil/gateway';
import { VigilClient } from './client';
import { findConnection } from './connection';

export interface GlobalOptions {
  readonly url?: string;
  readonly apiKey?: string;
  readonly dataDir?: string;
}

/**
 * Runs `work` against a Vigil API: the one named by the options, the embedded server already running on the
 * data directory, or, when none is running, an embedded platform started in this process for the command.
 */
export async function withClient<T>(options: GlobalOptions, work: (client: VigilClient) => Promise<T>): Promise<T> {
  const environment = loadEnvironment(platformEnvironmentSchema, {
    ...process.env,
    ...(options.dataDir ? { VIGIL_DATA_DIR: options.dataDir } : {}),
  });
  const connection = await findConnection({
    ...((options.url ?? process.env['VIGIL_URL']) ? { url: options.url ?? process.env['VIGIL_URL'] } : {}),
    ...((options.apiKey ?? process.env['VIGIL_API_KEY'])
      ? { apiKey: options.apiKey ?? process.env['VIGIL_API_KEY'] }
      : {}),
    dataDir: environment.VIGIL_DATA_DIR,
  });
  if (connection) return work(new VigilClient(connection));

  let platform: RunningPlatform | null = null;
  try {
    // With Redis, the cluster's own workers run jobs; without it this process must.
    platform = await startPlatform({
      environment,
      port: 0,
      host: '127.0.0.1',
      log: silentLogger(),
      workers: !environment.REDIS_URL,
    });
    const local = await findConnection({
      url: platform.url,
      ...((options.apiKey ?? process.env['VIGIL_API_KEY'])
        ? { apiKey: options.apiKey ?? process.env['VIGIL_API_KEY'] }
        : {}),
      dataDir: environment.VIGIL_DATA_DIR,
    });
    if (!local) throw new Error('could not connect to the embedded platform');
    return await work(new VigilClient(local));
  } finally {
    await platform?.stop();
  }
}
