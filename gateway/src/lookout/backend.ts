import { ErrorCode, VigilError } from '@vigil/contracts';
import { identityHeaders, type GatewayContext } from '../context';
import type { GraphQLExecutor } from '../http/app';
import { fromGraphQLError } from './errors';

export type { GraphQLExecutor } from '../http/app';

/** Data of an operation, or its first error as a VigilError. */
export async function runGraphQL<T>(
  execute: GraphQLExecutor,
  context: GatewayContext,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  const result = await execute(context, query, variables);
  const first = result.errors?.[0];
  if (first) throw fromGraphQLError(first);
  if (!result.data) throw new VigilError(ErrorCode.Internal, 'the GraphQL operation returned no data');
  return result.data as T;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Buffer;
}

/**
 * The inference service's REST routes (`/v1/detect`, `/v1/inspections/*`), called with the caller's identity
 * signed exactly as the gateway's proxy does: a remote service in distributed mode, a loopback listener in the
 * embedded process.
 */
export interface InferenceHttp {
  request(
    context: GatewayContext,
    method: 'GET' | 'POST',
    pathAndQuery: string,
    body?: { bytes: Buffer; contentType: string },
  ): Promise<HttpAnswer>;
}

/** For a gateway composed without the inference service: detection answers UNAVAILABLE. */
export function noInferenceService(): InferenceHttp {
  return {
    request: () =>
      Promise.reject(new VigilError(ErrorCode.Unavailable, 'this gateway has no inference service (INFERENCE_URL)')),
  };
}

export function inferenceHttpClient(base: string, secret: string): InferenceHttp {
  const root = base.replace(/\/+$/, '');
  return {
    async request(context, method, pathAndQuery, body) {
      let response: Response;
      try {
        response = await fetch(`${root}${pathAndQuery}`, {
          method,
          headers: {
            ...identityHeaders(context, secret),
            ...(body ? { 'content-type': body.contentType } : {}),
          },
          ...(body ? { body: body.bytes } : {}),
        });
      } catch (error) {
        throw new VigilError(
          ErrorCode.Unavailable,
          'the inference service is unreachable; try again',
          {},
          { cause: error },
        );
      }
      return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
    },
  };
}
