import { describe, expect, it } from '@jest/globals';
import express from 'express';
import { listen, sendError } from './http';
import { silentLogger } from './logger';

/** An app whose JSON body limit is 64 bytes and whose error handler is sendError. */
async function tinyApp() {
  const app = express();
  app.post('/echo', express.json({ limit: 64 }), (req, res) => {
    res.json(req.body);
  });
  app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (res.headersSent) return next(err);
    sendError(res, err, silentLogger());
  });
  return listen(app, 0, '127.0.0.1');
}

describe('sendError', () => {
  it('answers a body over the limit with 413 PAYLOAD_TOO_LARGE, not 500', async () => {
    const server = await tinyApp();
    try {
      const response = await fetch(`${server.url}/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ids: 'x'.repeat(200) }),
      });
      expect(response.status).toBe(413);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
    } finally {
      await server.close();
    }
  });

  it('answers malformed JSON with 400 BAD_USER_INPUT', async () => {
    const server = await tinyApp();
    try {
      const response = await fetch(`${server.url}/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"ids": [',
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('BAD_USER_INPUT');
    } finally {
      await server.close();
    }
  });
});
