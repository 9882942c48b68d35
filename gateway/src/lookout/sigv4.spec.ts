import { describe, expect, it } from '@jest/globals';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { errors, Role } from '@vigil/contracts';
import { MAX_CLOCK_SKEW_MS, verifySignature, type SignedRequest } from './sigv4';

const credentials = {
  accessKeyId: 'VGLAABCDEFGHIJKLMNOP',
  secretAccessKey: 'a-secret-access-key-of-forty-characters!',
};
const principal = { id: '00000000-0000-4000-8000-000000000001', name: 'spec key', role: Role.Operator };
const keys = {
  signingIdentity: async (id: string) => {
    if (id !== credentials.accessKeyId) throw errors.unauthenticated('unknown access key id');
    return { principal, secretAccessKey: credentials.secretAccessKey };
  },
};
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

/** Signs like the AWS SDK does and returns the request as the server receives it. */
async function signed(
  init: { method?: string; path?: string; query?: Record<string, string | string[]>; body?: string } = {},
  options: { service?: string; at?: number; extraHeaders?: Record<string, string> } = {},
): Promise<SignedRequest> {
  const signer = new SignatureV4({
    service: options.service ?? 'lookoutvision',
    region: 'us-east-1',
    credentials,
    sha256: Sha256,
  });
  const body = init.body ?? '';
  const request = await signer.sign(
    {
      method: init.method ?? 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 4000,
      path: init.path ?? '/2020-11-20/projects',
      query: init.query ?? {},
      headers: {
        host: '127.0.0.1:4000',
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        ...options.extraHeaders,
      },
      body,
    },
    { signingDate: new Date(options.at ?? NOW) },
  );
  const search = Object.entries(init.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x)}`))
    .join('&');
  return {
    method: request.method,
    url: `${request.path}${search ? `?${search}` : ''}`,
    headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), String(v)])),
    body: Buffer.from(body),
  };
}

const reject = (request: SignedRequest, now = NOW) =>
  expect(verifySignature(request, keys, now)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

describe('SigV4 verification', () => {
  it('accepts what the AWS signer produces and answers the key principal', async () => {
    const request = await signed({ body: '{"ProjectName":"p"}' });
    await expect(verifySignature(request, keys, NOW)).resolves.toEqual({
      principal,
      accessKeyId: credentials.accessKeyId,
    });
  });

  it('accepts URL-encoded path parameters and repeated query parameters as the client signed them', async () => {
    const arn = encodeURIComponent('arn:aws:lookoutvision:us-east-1:000000000000:project/p');
    const request = await signed({
      method: 'DELETE',
      path: `/2020-11-20/tags/${arn}`,
      query: { tagKeys: ['b', 'a c'] },
    });
    await expect(verifySignature(request, keys, NOW)).resolves.toMatchObject({ principal });
  });

  it('refuses a changed body, path, query or signed header', async () => {
    const request = await signed({ body: '{"ProjectName":"p"}', query: { maxResults: '5' } });
    await reject({ ...request, body: Buffer.from('{"ProjectName":"q"}') });
    await reject({ ...request, url: request.url.replace('projects', 'projectz') });
    await reject({ ...request, url: request.url.replace('maxResults=5', 'maxResults=6') });
    await reject({ ...request, headers: { ...request.headers, 'content-type': 'text/plain' } });
  });

  it('refuses an x-amz-content-sha256 that does not match the body', async () => {
    const request = await signed(
      { body: '' },
      { extraHeaders: { 'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' } },
    );
    await expect(verifySignature(request, keys, NOW)).resolves.toMatchObject({ principal });
    await reject({ ...request, body: Buffer.from('{"ProjectName":"p"}') });
  });

  it('refuses a signature outside the 5-minute window, either way', async () => {
    const request = await signed();
    await expect(verifySignature(request, keys, NOW + MAX_CLOCK_SKEW_MS)).resolves.toMatchObject({ principal });
    await reject(request, NOW + MAX_CLOCK_SKEW_MS + 1000);
    await reject(request, NOW - MAX_CLOCK_SKEW_MS - 1000);
  });

  it('refuses another service, a wrong secret, an unknown key and a missing signature', async () => {
    await reject(await signed({}, { service: 's3' }));
    const request = await signed();
    await reject({ ...request, headers: { ...request.headers, authorization: undefined } });
    await reject({
      ...request,
      headers: {
        ...request.headers,
        authorization: String(request.headers['authorization']).replace(
          credentials.accessKeyId,
          'VGLAZZZZZZZZZZZZZZZZ',
        ),
      },
    });
    await reject({
      ...request,
      headers: {
        ...request.headers,
        authorization: String(request.headers['authorization']).replace(/Signature=[0-9a-f]{4}/, 'Signature=0000'),
      },
    });
  });

  it('refuses a credential scope date that is not the x-amz-date day', async () => {
    const request = await signed();
    await reject(
      { ...request, headers: { ...request.headers, 'x-amz-date': '20261124T120000Z' } },
      Date.UTC(2026, 10, 24, 12),
    );
  });
});
