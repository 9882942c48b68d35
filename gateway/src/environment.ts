import { z } from 'zod';
import { isVigilError } from '@vigil/contracts';
import { distributedEnv, env, platformEnvironmentSchema } from '@vigil/service-kit';
import { parseSubgraphList } from './distributed/subgraphs';

const httpUrl = () =>
  z
    .string()
    .url()
    .regex(/^https?:\/\//, 'must be an http(s) URL');

/** The gateway run on its own (distributed mode); every variable is listed in gateway/README.md. */
export const gatewayEnvironmentSchema = platformEnvironmentSchema
  .extend({
    PORT: env.port(4000),
    HOST: distributedEnv.host(),
    GATEWAY_SECRET: distributedEnv.gatewaySecret(),
    /** API keys and the audit log live here; the gateway never runs migrations (`vigil migrate` does). */
    DATABASE_URL: distributedEnv.databaseUrl(),
    INGESTION_URL: httpUrl().optional(),
    DATASET_URL: httpUrl().optional(),
    TRAINING_URL: httpUrl().optional(),
    INFERENCE_URL: httpUrl().optional(),
    /** `name=url,name=url`: the remote subgraphs (INGESTION_URL, DATASET_URL, TRAINING_URL and INFERENCE_URL override entries of theirs). */
    SUBGRAPHS: z
      .string()
      .transform((value, ctx) => {
        try {
          return parseSubgraphList(value);
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: isVigilError(error) ? error.message : String(error) });
          return z.NEVER;
        }
      })
      .optional(),
    /** A composed supergraph (e.g. gateway/dist/supergraph.graphql) instead of composing at start-up. */
    SUPERGRAPH_PATH: z.string().optional(),
    /** How long to wait for the subgraphs to answer at start-up when composing from them. */
    SUBGRAPH_WAIT_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
    /** Base URL of the ingestion service's REST routes; default: the ingestion subgraph URL without /graphql. */
    INGESTION_HTTP_URL: httpUrl().optional(),
    /** Base URL of the inference service's REST routes (/v1/detect, inspection pictures); default: its subgraph URL without /graphql. */
    INFERENCE_HTTP_URL: httpUrl().optional(),
    REQUEST_MAX_BYTES: env.bytes(1_000_000),
  })
  .refine(
    (value) =>
      Boolean(
        value.SUPERGRAPH_PATH ||
        value.INGESTION_URL ||
        value.DATASET_URL ||
        value.TRAINING_URL ||
        value.INFERENCE_URL ||
        value.SUBGRAPHS,
      ),
    {
      path: ['SUBGRAPHS'],
      message:
        'no subgraphs: set INGESTION_URL and DATASET_URL (or SUBGRAPHS=name=url,...) to compose from the running ' +
        'services, or SUPERGRAPH_PATH to a composed supergraph',
      // Checked even when other variables are invalid, so one run lists every problem. It only tests presence,
      // which holds for a partly invalid value too.
      when: () => true,
    },
  );
export type GatewayEnvironment = z.infer<typeof gatewayEnvironmentSchema>;

/** The remote subgraph URLs the environment names (access is always the gateway's own). */
export function configuredSubgraphUrls(environment: GatewayEnvironment): Map<string, string> {
  const urls = new Map(environment.SUBGRAPHS ?? []);
  if (environment.INGESTION_URL) urls.set('ingestion', environment.INGESTION_URL);
  if (environment.DATASET_URL) urls.set('dataset', environment.DATASET_URL);
  if (environment.TRAINING_URL) urls.set('training', environment.TRAINING_URL);
  if (environment.INFERENCE_URL) urls.set('inference', environment.INFERENCE_URL);
  return urls;
}
