import { describe, expect, it } from '@jest/globals';
import { PRINCIPAL_HEADER, silentLogger, verifyPrincipal } from '@vigil/service-kit';
import { fetchSubgraphSchemas } from './fetch-sdl';

const SECRET = 'x'.repeat(32);
const URL_ONE = 'http://one.test/graphql';

/** A stand-in for a subgraph's fetch: `outcomes` in order (a status, or a thrown error), then success. */
function fakeFetch(outcomes: (number | Error)[], secret = SECRET) {
  const calls: string[] = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push(String(input));
    const headers = new Headers(init?.headers);
    try {
      verifyPrincipal(headers.get(PRINCIPAL_HEADER) ?? undefined, secret);
    } catch {
      return new Response(null, { status: 401 });
    }
    const next = outcomes.shift();
    if (next instanceof Error) throw new TypeError('fetch failed', { cause: next });
    if (next !== undefined) return new Response(null, { status: next });
    return Response.json({ data: { _service: { sdl: 'type Query { hello: String }' } } });
  }) as typeof fetch;
  return { fetchImpl, calls };
}

describe('fetchSubgraphSchemas', () => {
  it('retries a subgraph that is not up yet, signing each request', async () => {
    const fake = fakeFetch([new Error('connect ECONNREFUSED'), 503]);
    const schemas = await fetchSubgraphSchemas([{ name: 'one', url: URL_ONE }], {
      secret: SECRET,
      waitMs: 10_000,
      log: silentLogger(),
      sleep: async () => undefined,
      fetch: fake.fetchImpl,
    });
    expect(schemas.get('one')?.kind).toBe('Document');
    expect(fake.calls).toEqual([URL_ONE, URL_ONE, URL_ONE]);
  });

  it('fails at once when the subgraph rejects the signature (a different secret)', async () => {
    const fake = fakeFetch([], 'y'.repeat(32));
    await expect(
      fetchSubgraphSchemas([{ name: 'one', url: URL_ONE }], {
        secret: SECRET,
        waitMs: 10_000,
        log: silentLogger(),
        fetch: fake.fetchImpl,
      }),
    ).rejects.toThrow(/GATEWAY_SECRET differs/);
    expect(fake.calls).toHaveLength(1);
  });

  it('fails at once for a URL that is not a subgraph', async () => {
    const notGraphql = (async () => new Response('<html>', { status: 404 })) as unknown as typeof fetch;
    await expect(
      fetchSubgraphSchemas([{ name: 'one', url: URL_ONE }], {
        secret: SECRET,
        waitMs: 10_000,
        log: silentLogger(),
        fetch: notGraphql,
      }),
    ).rejects.toThrow(/not a federated subgraph \(HTTP 404/);
  });

  it('gives up after the wait, naming each unreachable subgraph and why', async () => {
    const fake = fakeFetch([new Error('connect ECONNREFUSED')]);
    await expect(
      fetchSubgraphSchemas([{ name: 'one', url: URL_ONE }], {
        secret: SECRET,
        waitMs: 0,
        log: silentLogger(),
        fetch: fake.fetchImpl,
      }),
    ).rejects.toThrow(
      /subgraphs not reachable after 0 s:\n {2}- one \(http:\/\/one\.test\/graphql\): connect ECONNREFUSED/,
    );
  });
});
