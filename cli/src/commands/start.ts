import { loadEnvironment, platformEnvironmentSchema, createLogger, onShutdown, env } from '@vigil/service-kit';
import { startPlatform } from '@vigil/gateway';
import { z } from 'zod';

const startEnvironmentSchema = platformEnvironmentSchema.extend({
  PORT: env.port(4000),
  HOST: z.string().default('0.0.0.0'),
});

export async function startCommand(options: { port?: string; dataDir?: string }): Promise<void> {
  const environment = loadEnvironment(startEnvironmentSchema, {
    ...process.env,
    ...(options.port ? { PORT: options.port } : {}),
    ...(options.dataDir ? { VIGIL_DATA_DIR: options.dataDir } : {}),
  });
  const log = createLogger({ name: 'vigil', level: environment.LOG_LEVEL });
  const platform = await startPlatform({ environment, port: environment.PORT, host: environment.HOST, log });
  onShutdown(log, () => platform.stop());

  const lines = [``, `  Vigil is running: ${platform.url}/graphql   (health: ${platform.url}/healthz)`];
  if (platform.firstAdminKey) {
    lines.push(
      ``,
      `  First start: an admin API key was created. It is shown once; a copy is in ${platform.adminKeyFile} (mode 0600).`,
      ``,
      `    ${platform.firstAdminKey}`,
      ``,
      `  Use it as:  curl -H "Authorization: Bearer <key>" ...`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}
