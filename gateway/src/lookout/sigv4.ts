import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { errors, type Principal } from '@vigil/contracts';

/**
 * AWS Signature Version 4 verification for the Lookout-compatible REST layer. The canonical request is rebuilt
 * with @smithy/signature-v4 (the code that signs on the client side), from exactly the headers the client
 * listed, the path as sent (still URL-encoded, as the client signed it) and the raw body, so any byte the
 * client did not sign, or signed differently, changes the signature.
 */
export const SIGV4_SERVICE = 'lookoutvision';
/** AWS's own tolerance: a signature is valid 5 minutes either side of its x-amz-date. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

const AUTHORIZATION_PATTERN =
  /^AWS4-HMAC-SHA256\s+Credential=([^/\s,]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request\s*,\s*SignedHeaders=([a-z0-9;_.-]+)\s*,\s*Signature=([0-9a-f]{64})\s*$/;
const AMZ_DATE_PATTERN = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** node:crypto in the Checksum shape the signer expects (HMAC when given a secret). */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export interface SignedRequest {
  readonly method: string;
  /** The path and query exactly as received (`req.originalUrl`). */
  readonly url: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export interface SignatureLookup {
  signingIdentity(accessKeyId: string): Promise<{ principal: Principal; secretAccessKey: string }>;
}

function header(request: Pick<SignedRequest, 'headers'>, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function parseAmzDate(value: string): Date | null {
  const m = AMZ_DATE_PATTERN.exec(value);
  if (!m) return null;
  const date = new Date(
    Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])),
  );
  return Number.isNaN(date.getTime()) ? null : date;
}

function parseQuery(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const part of search.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    // Percent-decoding only: the client encodes a space as %20 and a '+' as %2B.
    const key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else query[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return query;
}

interface CheckedHeaders {
  readonly accessKeyId: string;
  readonly region: string;
  readonly signature: string;
  readonly signingDate: Date;
  readonly headers: Record<string, string>;
  readonly principal: Principal;
  readonly secretAccessKey: string;
}

/**
 * Everything that can be checked before the body is read: the Authorization header's form and scope, the date
 * window, the signed headers' presence and a live access key id. Run first, so a caller without a valid key
 * cannot make the server read (and hold) a large body.
 */
export async function checkSignatureHeaders(
  request: Omit<SignedRequest, 'body'>,
  keys: SignatureLookup,
  now: number = Date.now(),
): Promise<CheckedHeaders> {
  const authorization = header(request, 'authorization');
  if (!authorization) throw errors.unauthenticated('Missing Authentication Token: sign requests with AWS SigV4');
  const match = AUTHORIZATION_PATTERN.exec(authorization.trim());
  if (!match) throw errors.unauthenticated('the Authorization header is not a well-formed AWS4-HMAC-SHA256 signature');
  const [, accessKeyId = '', scopeDate = '', region = '', service = '', signedHeaderList = '', signature = ''] = match;
  if (service !== SIGV4_SERVICE) {
    throw errors.unauthenticated(`Credential should be scoped to correct service: '${SIGV4_SERVICE}'`);
  }
  const amzDate = header(request, 'x-amz-date');
  const signingDate = amzDate ? parseAmzDate(amzDate) : null;
  if (!amzDate || !signingDate) throw errors.unauthenticated('a valid X-Amz-Date header is required');
  if (amzDate.slice(0, 8) !== scopeDate) {
    throw errors.unauthenticated('the credential scope date does not match X-Amz-Date');
  }
  if (Math.abs(now - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
    // A captured request cannot be replayed once its window has passed.
    throw errors.unauthenticated(
      `Signature expired: ${amzDate} is more than 5 minutes from the server time ${new Date(now).toISOString()}`,
    );
  }
  const signedHeaders = signedHeaderList.split(';');
  for (const required of ['host', 'x-amz-date']) {
    if (!signedHeaders.includes(required)) throw errors.unauthenticated(`the '${required}' header must be signed`);
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = header(request, name);
    if (value === undefined) throw errors.unauthenticated(`signed header '${name}' is missing from the request`);
    headers[name] = value;
  }
  const { principal, secretAccessKey } = await keys.signingIdentity(accessKeyId);
  return { accessKeyId, region, signature, signingDate, headers, principal, secretAccessKey };
}

/**
 * Verifies a request's signature and answers its principal; UNAUTHENTICATED (the edge answers
 * AccessDeniedException) for anything unsigned, malformed, stale, signed for another body or badly signed.
 */
export async function verifySignature(
  request: SignedRequest,
  keys: SignatureLookup,
  now: number = Date.now(),
): Promise<{ principal: Principal; accessKeyId: string }> {
  const { accessKeyId, region, signature, signingDate, headers, principal, secretAccessKey } =
    await checkSignatureHeaders(request, keys, now);
  const bodyHash = createHash('sha256').update(request.body).digest('hex');
  const declaredHash = header(request, 'x-amz-content-sha256');
  if (declaredHash !== undefined && declaredHash !== bodyHash) {
    throw errors.unauthenticated('x-amz-content-sha256 does not match the body: every payload must be signed');
  }
  const queryStart = request.url.indexOf('?');
  const path = queryStart < 0 ? request.url : request.url.slice(0, queryStart);
  const signer = new SignatureV4({
    service: SIGV4_SERVICE,
    region,
    credentials: { accessKeyId, secretAccessKey },
    sha256: NodeSha256,
    // The client signs no x-amz-content-sha256 of its own; adding one would change the signed header list.
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: request.method.toUpperCase(),
      protocol: 'http:',
      hostname: headers['host'] ?? '',
      path,
      query: queryStart < 0 ? {} : parseQuery(request.url.slice(queryStart + 1)),
      headers,
      body: request.body,
    },
    { signingDate, signingRegion: region, signingService: SIGV4_SERVICE },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers['authorization'] ?? ''))?.[1] ?? '';
  const a = Buffer.from(expected, 'hex');
  const b = Buffer.from(signature, 'hex');
  if (a.length !== 32 || !timingSafeEqual(a, b)) {
    throw errors.unauthenticated(
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
  return { principal, accessKeyId };
}
