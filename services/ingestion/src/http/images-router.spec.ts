import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ErrorCode, isRole } from '@vigil/contracts';
import { ImageCatalog } from '@vigil/images';
import { listen, silentLogger, type RunningHttpServer } from '@vigil/service-kit';
import { InMemoryImageRepository, InMemoryObjectStore, syntheticImage } from '@vigil/images/src/testing';
import { imagesRouter } from './images-router';

const MAX_UPLOAD = 20_000;

let server: RunningHttpServer;
let catalog: ImageCatalog;
let png: Buffer;

/** Stands in for the gateway-trust middleware: the test says who the caller is in x-test-role. */
function testIdentity(req: Request, res: Response, next: NextFunction): void {
  const role = req.get('x-test-role');
  if (isRole(role)) {
    res.locals.vigilContext = { principal: { id: 'key-1', name: 'alice', role }, requestId: 'r', log: silentLogger() };
  }
  next();
}

beforeAll(async () => {
  png = await syntheticImage({ format: 'png', width: 32, height: 24, seed: 5 });
  const app = express();
  app.use(testIdentity);
  // The catalogue is swapped per test; the router reads it through this indirection.
  const router = (req: Request, res: Response, next: NextFunction) =>
    imagesRouter({ catalog, maxUploadBytes: MAX_UPLOAD, log: silentLogger() })(req, res, next);
  app.use(router);
  server = await listen(app, 0, '127.0.0.1');
});
afterAll(() => server.close());
beforeEach(() => {
  catalog = new ImageCatalog({ images: new InMemoryImageRepository(), store: new InMemoryObjectStore() });
});

function upload(
  body: RequestInit['body'],
  options: { role?: string; query?: string; headers?: Record<string, string> } = {},
) {
  const init: RequestInit & { duplex?: 'half' } = {
    method: 'POST',
    headers: {
      'content-type': 'application/octet-stream',
      ...(options.role === undefined
        ? { 'x-test-role': 'operator' }
        : options.role
          ? { 'x-test-role': options.role }
          : {}),
      ...options.headers,
    },
    body,
  };
  if (body instanceof ReadableStream) init.duplex = 'half';
  return fetch(`${server.url}/images${options.query ?? ''}`, init);
}

/** A body sent with Transfer-Encoding: chunked (no Content-Length), in pieces. */
function chunked(total: number, piece = 4096): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent >= total) return controller.close();
      const size = Math.min(piece, total - sent);
      sent += size;
      controller.enqueue(new Uint8Array(size).fill(7));
    },
  });
}

async function errorOf(response: globalThis.Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

describe('POST /images', () => {
  it('stores a new image (201) with its metadata, and answers 200 for the same bytes again', async () => {
    const query = '?name=cam-1.png&line=L2&station=S1&tags=night,%20batch-4,&capturedAt=2024-03-04T05:06:07Z';
    const first = await upload(png, { query });
    expect(first.status).toBe(201);
    const created = (await first.json()) as { image: Record<string, unknown>; deduplicated: boolean };
    expect(created.deduplicated).toBe(false);
    expect(created.image).toMatchObject({
      format: 'png',
      width: 32,
      height: 24,
      originalName: 'cam-1.png',
      line: 'L2',
      station: 'S1',
      tags: ['night', 'batch-4'],
      capturedAt: '2024-03-04T05:06:07.000Z',
      contentPath: expect.stringContaining(String(created.image['id'])),
    });

    const again = await upload(png);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { deduplicated: boolean }).deduplicated).toBe(true);
  });

  it('answers 413 for a body whose Content-Length is over the limit', async () => {
    const response = await upload(Buffer.alloc(MAX_UPLOAD + 1));
    expect(response.status).toBe(413);
    expect((await errorOf(response)).code).toBe(ErrorCode.PayloadTooLarge);
    expect((await catalog.list()).items).toEqual([]);
  });

  it('answers 413 for a chunked body that grows over the limit', async () => {
    const response = await upload(chunked(MAX_UPLOAD * 3));
    expect(response.status).toBe(413);
    expect((await errorOf(response)).code).toBe(ErrorCode.PayloadTooLarge);
  });

  it('accepts a chunked body under the limit', async () => {
    const bytes = png;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(bytes.subarray(0, 100)));
        controller.enqueue(new Uint8Array(bytes.subarray(100)));
        controller.close();
      },
    });
    expect((await upload(stream)).status).toBe(201);
  });

  it('answers 400 for an empty body', async () => {
    const response = await upload(Buffer.alloc(0));
    expect(response.status).toBe(400);
    expect((await errorOf(response)).code).toBe(ErrorCode.BadUserInput);
  });

  it('answers 415 for a text file', async () => {
    const response = await upload(Buffer.from('just some text, not an image\n'));
    expect(response.status).toBe(415);
    expect((await errorOf(response)).code).toBe(ErrorCode.UnsupportedMediaType);
  });

  it('answers 400 for invalid metadata', async () => {
    expect((await upload(png, { query: '?capturedAt=not-a-date' })).status).toBe(400);
    expect((await upload(png, { query: '?line=a&line=b' })).status).toBe(400);
    expect((await catalog.list()).items).toEqual([]);
  });

  it('answers 401 without an identity and 403 for a viewer', async () => {
    const anonymous = await upload(png, { role: '' });
    expect(anonymous.status).toBe(401);
    expect((await errorOf(anonymous)).code).toBe(ErrorCode.Unauthenticated);
    const viewer = await upload(png, { role: 'viewer' });
    expect(viewer.status).toBe(403);
    expect((await errorOf(viewer)).code).toBe(ErrorCode.Forbidden);
    expect((await catalog.list()).items).toEqual([]);
  });
});

describe('GET /images/:id/content', () => {
  it('returns the stored bytes with their type, to any role', async () => {
    const created = (await (await upload(png)).json()) as { image: { id: string } };
    const response = await fetch(`${server.url}/images/${created.image.id}/content`, {
      headers: { 'x-test-role': 'viewer' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(response.headers.get('etag')).toBe(`"${created.image.id}"`);
    expect(Buffer.from(await response.arrayBuffer()).equals(png)).toBe(true);
  });

  it('answers 404 for unknown and malformed ids, and 401 without an identity', async () => {
    const unknown = await fetch(`${server.url}/images/${'a'.repeat(64)}/content`, {
      headers: { 'x-test-role': 'viewer' },
    });
    expect(unknown.status).toBe(404);
    const malformed = await fetch(`${server.url}/images/..%2F..%2Fetc/content`, {
      headers: { 'x-test-role': 'viewer' },
    });
    expect(malformed.status).toBe(404);
    expect((await fetch(`${server.url}/images/${'a'.repeat(64)}/content`)).status).toBe(401);
  });
});
