import { parse, type DocumentNode } from 'graphql';
import { ErrorCode, SYSTEM_PRINCIPAL, VigilError } from '@vigil/contracts';
import { PRINCIPAL_HEADER, signPrincipal, type Logger } from '@vigil/service-kit';

export interface RemoteSubgraph {
  readonly name: string;
  readonly url: string;
}

/** Thrown for answers that no retry will change (a wrong secret, a URL that is not a subgraph). */
class PermanentFailure extends Error {}

const SDL_QUERY = JSON.stringify({ query: '{ _service { sdl } }' });

/** One attempt at a subgraph's schema, asked as the system principal (subgraphs trust only the gateway). */
export async function fetchSubgraphSdl(
  subgraph: RemoteSubgraph,
  secret: string,
  options: { timeoutMs?: number; fetch?: typeof fetch } = {},
): Promise<string> {
  const response = await (options.fetch ?? fetch)(subgraph.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [PRINCIPAL_HEADER]: signPrincipal(SYSTEM_PRINCIPAL, secret) },
    body: SDL_QUERY,
    signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
  });
  if (response.status === 401) {
    throw new PermanentFailure(
      `${subgraph.name} at ${subgraph.url} rejected the gateway's signature: its GATEWAY_SECRET differs from the gateway's`,
    );
  }
  if (response.status >= 500) throw new Error(`${subgraph.name} answered HTTP ${response.status}`);
  const body = (await response.json().catch(() => null)) as { data?: { _service?: { sdl?: unknown } } } | null;
  const sdl = body?.data?._service?.sdl;
  if (typeof sdl !== 'string') {
    throw new PermanentFailure(
      `${subgraph.name} at ${subgraph.url} is not a federated subgraph (HTTP ${response.status}, no _service.sdl)`,
    );
  }
  return sdl;
}

/**
 * Every subgraph's schema, retried with capped exponential backoff until all answer or `waitMs` has
 * passed, so the gateway can start before (or together with) the services it fronts.
 */
export async function fetchSubgraphSchemas(
  subgraphs: readonly RemoteSubgraph[],
  options: {
    secret: string;
    waitMs: number;
    log: Logger;
    sleep?: (ms: number) => Promise<void>;
    fetch?: typeof fetch;
  },
): Promise<Map<string, DocumentNode>> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = Date.now() + options.waitMs;
  const schemas = new Map<string, DocumentNode>();
  let delay = 250;
  for (let attempt = 1; ; attempt++) {
    const failures: string[] = [];
    for (const subgraph of subgraphs.filter((s) => !schemas.has(s.name))) {
      try {
        const sdl = await fetchSubgraphSdl(subgraph, options.secret, options.fetch ? { fetch: options.fetch } : {});
        schemas.set(subgraph.name, parse(sdl));
      } catch (error) {
        if (error instanceof PermanentFailure) throw new VigilError(ErrorCode.Unavailable, error.message);
        const reason =
          error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : '';
        failures.push(`${subgraph.name} (${subgraph.url}): ${reason || String(error)}`);
      }
    }
    if (failures.length === 0) return schemas;
    if (Date.now() + delay > deadline) {
      throw new VigilError(
        ErrorCode.Unavailable,
        `subgraphs not reachable after ${Math.round(options.waitMs / 1000)} s:\n${failures.map((f) => `  - ${f}`).join('\n')}`,
      );
    }
    options.log.info({ attempt, waiting: failures, retryInMs: delay }, 'waiting for subgraphs');
    await sleep(delay);
    delay = Math.min(delay * 2, 5000);
  }
}
