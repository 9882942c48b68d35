import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Express } from 'express';
import type { Kysely } from 'kysely';
import type { Database } from '@vigil/db';
import type { AuditTrail, Logger } from '@vigil/service-kit';
import type { GraphQLExecutor } from '../http/app';
import type { InferenceHttp } from './backend';
import { DEFAULT_ARN_SCHEME, type ArnScheme } from './arn';
import type { EvaluationWriter } from './operations';
import { LOOKOUT_PREFIX, lookoutRouter } from './router';
import type { SignatureLookup } from './sigv4';
import { KyselyLookoutStore } from './store';

export { inferenceHttpClient, noInferenceService, type InferenceHttp } from './backend';
export { LOOKOUT_PREFIX } from './router';
export { DEFAULT_ARN_SCHEME, projectArn, modelArn, type ArnScheme } from './arn';

/** Evaluation output written to the customer's bucket through the client that reads their manifests. */
export function s3EvaluationWriter(client: S3Client): EvaluationWriter {
  return {
    async write(location, body) {
      await client.send(
        new PutObjectCommand({
          Bucket: location.bucket,
          Key: location.key,
          Body: body,
          ContentType: location.key.endsWith('.json') ? 'application/json' : 'application/x-ndjson',
        }),
      );
    },
  };
}

export interface MountLookoutOptions {
  readonly db: Kysely<Database>;
  readonly keys: SignatureLookup;
  readonly audit: AuditTrail;
  readonly inference: InferenceHttp;
  readonly log: Logger;
  readonly maxBodyBytes: number;
  readonly outputs?: EvaluationWriter;
  readonly arns?: ArnScheme;
}

/** Mounts the Lookout for Vision–compatible REST API at `/2020-11-20` (before any body parser). */
export function mountLookout(app: Express, execute: GraphQLExecutor, options: MountLookoutOptions): void {
  app.use(
    LOOKOUT_PREFIX,
    lookoutRouter({
      execute,
      inference: options.inference,
      store: new KyselyLookoutStore(options.db),
      arns: options.arns ?? DEFAULT_ARN_SCHEME,
      keys: options.keys,
      audit: options.audit,
      log: options.log,
      maxBodyBytes: options.maxBodyBytes,
      ...(options.outputs ? { outputs: options.outputs } : {}),
    }),
  );
}
export { lookoutRouter, type LookoutRouterOptions } from './router';
export type { LookoutStore, StoredResponse, DatasetJobRef, ModelOutput } from './store';
