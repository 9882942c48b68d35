import { z } from 'zod';
import { distributedEnv, env, platformEnvironmentSchema } from '@vigil/service-kit';

/** The inference service run on its own (distributed mode); every variable is listed in the README. */
export const inferenceEnvironmentSchema = platformEnvironmentSchema.extend({
  PORT: env.port(4004),
  HOST: distributedEnv.host(),
  /** Run the detection workers in this process; false for an API-only replica. */
  RUN_WORKERS: distributedEnv.runWorkers(),
  GATEWAY_SECRET: distributedEnv.gatewaySecret(),
  DATABASE_URL: distributedEnv.databaseUrl(),
  REDIS_URL: distributedEnv.redisUrl(),
  /** Shared object store; without it objects go to VIGIL_DATA_DIR/objects, which every service must share. */
  S3_BUCKET: z.string().optional(),
});
export type InferenceEnvironment = z.infer<typeof inferenceEnvironmentSchema>;
