import { z } from 'zod';
import { env } from './environment';

/**
 * Variables every Vigil process understands. Services extend this schema with their own; the README
 * of each service lists them in a table.
 */
export const platformEnvironmentSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  /** Embedded state (PGlite database, local objects, generated secrets). */
  VIGIL_DATA_DIR: z.string().default('./.vigil'),
  /** Postgres server; when unset, an embedded PGlite database under VIGIL_DATA_DIR. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  /** Redis for BullMQ queues; when unset, jobs run in-process (durable in the database). */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .optional(),
  /** Prefix of every BullMQ key in Redis, so several installations (or test runs) can share one Redis. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . and - only')
    .default('vigil'),
  /**
   * Queue reliability (see @vigil/queue): how often workers reconcile their queues with the jobs table (lost
   * Redis data, failed enqueues), the lease of a running job (a worker that stops refreshing it for this long
   * is presumed dead and its job taken over), and BullMQ's lock and stalled-job check.
   */
  QUEUE_RECONCILE_INTERVAL_SECONDS: z.coerce.number().min(0).max(86_400).default(60),
  QUEUE_LEASE_SECONDS: z.coerce.number().min(0).max(86_400).default(30),
  QUEUE_LOCK_DURATION_SECONDS: z.coerce.number().min(0.1).max(3600).default(30),
  QUEUE_STALLED_INTERVAL_SECONDS: z.coerce.number().min(0.1).max(3600).default(30),
  /** Object store bucket; when unset, objects live on local disk under VIGIL_DATA_DIR/objects. */
  S3_BUCKET: z.string().optional(),
  S3_PREFIX: z.string().default(''),
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().default('us-east-1'),
  S3_FORCE_PATH_STYLE: env.bool(false),
  /** Client for reading users' own buckets (imports, manifests); defaults to the S3_* settings. */
  SOURCE_S3_ENDPOINT: z.string().url().optional(),
  SOURCE_S3_REGION: z.string().optional(),
  SOURCE_S3_FORCE_PATH_STYLE: env.bool(false),
  /** Comma-separated folders that imports may read; unset = any folder in embedded mode, none in distributed mode. */
  IMPORT_ALLOWED_ROOTS: z.string().optional(),
  UPLOAD_MAX_BYTES: env.bytes(50 * 1024 * 1024),
  MANIFEST_MAX_BYTES: env.bytes(64 * 1024 * 1024),
  IMAGE_MAX_PIXELS: z.coerce.number().int().positive().default(100_000_000),
  /** Jobs one process runs at once per queue. */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  /** onnxruntime threads one model training uses. */
  TRAINING_THREADS: z.coerce.number().int().min(1).max(64).default(2),
  /** Detection jobs queued or running per inference queue above which new work is refused (RESOURCE_EXHAUSTED / 429). */
  INFERENCE_MAX_QUEUE_DEPTH: z.coerce.number().int().min(1).default(10_000),
  /** The retry-after a refused detection is given. */
  INFERENCE_RETRY_AFTER_SECONDS: z.coerce.number().int().min(1).max(3600).default(5),
  /** Loaded models (by artifact digest) one process keeps; least recently used evicted. */
  INFERENCE_MODEL_CACHE_SIZE: z.coerce.number().int().min(1).max(64).default(4),
  /** onnxruntime threads one loaded model uses for detection. */
  INFERENCE_THREADS: z.coerce.number().int().min(1).max(64).default(2),
  /** How long detectAnomalies waits for its verdict before answering with the pending record. */
  INFERENCE_DETECT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(600).default(60),
  /** How often an inference process reports itself to the worker registry and drops models no longer hosted. */
  INFERENCE_HEARTBEAT_SECONDS: z.coerce.number().min(0.05).max(300).default(5),
  /** Pending inspections one worker should absorb: the desired-workers gauge follows from it. */
  INFERENCE_JOBS_PER_WORKER: z.coerce.number().int().min(1).max(100_000).default(20),
  /** Shared by the gateway and subgraphs to sign caller identity (>= 32 chars). Generated in embedded mode. */
  GATEWAY_SECRET: env.secret().optional(),
});
export type PlatformEnvironment = z.infer<typeof platformEnvironmentSchema>;
