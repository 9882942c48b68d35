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
  /** How often this process reports itself to the worker registry and drops models no longer hosted. */
  INFERENCE_HEARTBEAT_SECONDS: z.coerce.number().min(0.05).max(300).default(5),
  /** Pending inspections one worker should absorb: the desired-workers gauge follows from it. */
  INFERENCE_JOBS_PER_WORKER: z.coerce.number().int().min(1).max(100_000).default(20),
  /** Shared object store; without it objects go to VIGIL_DATA_DIR/objects, which every service must share. */
  S3_BUCKET: z.string().optional(),
});
export type InferenceEnvironment = z.infer<typeof inferenceEnvironmentSchema>;
