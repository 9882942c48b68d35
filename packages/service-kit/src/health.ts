import type { Request, Response } from 'express';

export interface HealthCheck {
  readonly name: string;
  check(): Promise<void>;
}

/** `GET /healthz`: 200 with every check `ok`, else 503 naming what failed (never a stack). */
export function healthHandler(checks: readonly HealthCheck[]) {
  return async (_req: Request, res: Response): Promise<void> => {
    const results = await Promise.all(
      checks.map(async (c) => {
        try {
          await c.check();
          return [c.name, 'ok'] as const;
        } catch (error) {
          return [c.name, error instanceof Error ? error.message : String(error)] as const;
        }
      }),
    );
    const healthy = results.every(([, status]) => status === 'ok');
    res.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'degraded', checks: Object.fromEntries(results) });
  };
}
