import type { JobRow } from '@vigil/db';

/** A background job as every subgraph shows it (statuses upper-cased for GraphQL enums). */
export interface JobView<Summary = unknown> {
  readonly id: string;
  readonly kind: string;
  readonly status: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  readonly progress: { done: number; total: number | null; step: string | null; percent: number | null };
  readonly summary: Summary | null;
  readonly error: { code: string; message: string } | null;
  readonly payload: unknown;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

function asError(value: unknown): { code: string; message: string } | null {
  if (!value || typeof value !== 'object') return null;
  const record = value as Record<string, unknown>;
  return { code: String(record['code'] ?? 'INTERNAL'), message: String(record['message'] ?? 'job failed') };
}

export function toJobView<Summary = unknown>(row: JobRow): JobView<Summary> {
  const total = row.progress_total;
  const percent =
    total && total > 0
      ? Math.min(100, Math.round((row.progress_done / total) * 1000) / 10)
      : row.status === 'succeeded'
        ? 100
        : null;
  return {
    id: row.id,
    kind: row.kind,
    status: row.status.toUpperCase() as JobView['status'],
    progress: { done: row.progress_done, total, step: row.progress_step, percent },
    summary: (row.summary as Summary | null) ?? null,
    error: asError(row.error),
    payload: row.payload,
    createdBy: row.created_by,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}
