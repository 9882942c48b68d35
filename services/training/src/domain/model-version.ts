import type { ModelVersionRow } from '@vigil/db';
import type { ModelMetrics } from './metrics';
import type { ModelStatus } from './statuses';

export interface LogLine {
  readonly at: string;
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
}

/** The images a version was trained and tested on, by label. */
export interface TrainingDataCounts {
  readonly trainNormal: number;
  readonly trainAnomaly: number;
  readonly testNormal: number;
  readonly testAnomaly: number;
  readonly ignoredUnlabelled: number;
  /** True when the project had no test dataset and the train dataset was split in memory. */
  readonly splitFromTrain: boolean;
}

export interface Timings {
  readonly loadingSeconds: number;
  readonly trainingSeconds: number;
  readonly evaluationSeconds: number;
  readonly totalSeconds: number;
}

/** The training summary a version keeps besides its metrics (engine_summary). */
export interface EngineSummaryRecord {
  readonly engine: unknown;
  readonly data: TrainingDataCounts;
}

export interface ModelVersion {
  readonly id: string;
  readonly projectId: string;
  readonly version: number;
  readonly status: ModelStatus;
  readonly statusMessage: string | null;
  readonly description: string | null;
  readonly jobId: string | null;
  readonly artifact: { readonly key: string; readonly sha256: string; readonly bytes: number } | null;
  readonly datasetDigest: string | null;
  /** The training images' size when uniform (detection then requires it); null for mixed sizes. */
  readonly imageSize: { readonly width: number; readonly height: number } | null;
  readonly engineConfig: unknown;
  readonly engineSummary: EngineSummaryRecord | null;
  readonly metrics: ModelMetrics | null;
  readonly timings: Timings | null;
  readonly logs: readonly LogLine[];
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly trainedAt: Date | null;
}

export function toModelVersion(row: ModelVersionRow): ModelVersion {
  return {
    id: row.id,
    projectId: row.project_id,
    version: row.version,
    status: row.status as ModelStatus,
    statusMessage: row.status_message,
    description: row.description,
    jobId: row.job_id,
    artifact:
      row.artifact_key && row.artifact_sha256
        ? { key: row.artifact_key, sha256: row.artifact_sha256, bytes: Number(row.artifact_bytes ?? 0) }
        : null,
    datasetDigest: row.dataset_digest,
    imageSize: row.image_width && row.image_height ? { width: row.image_width, height: row.image_height } : null,
    engineConfig: row.engine_config,
    engineSummary: (row.engine_summary as EngineSummaryRecord | null) ?? null,
    metrics: (row.metrics as ModelMetrics | null) ?? null,
    timings: (row.timings as Timings | null) ?? null,
    logs: Array.isArray(row.logs) ? (row.logs as LogLine[]) : [],
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    trainedAt: row.trained_at,
  };
}

export const MAX_LOG_LINES = 200;

/** A bounded log: the first lines (what was read) and the latest ones are the useful ones. */
export class LogBuffer {
  private readonly lines: LogLine[];

  constructor(
    initial: readonly LogLine[] = [],
    private readonly now: () => Date = () => new Date(),
  ) {
    this.lines = [...initial];
  }

  add(message: string, level: LogLine['level'] = 'info'): void {
    this.lines.push({ at: this.now().toISOString(), level, message });
    if (this.lines.length > MAX_LOG_LINES) {
      // Keep the head (setup) and drop from just after it.
      const head = 20;
      this.lines.splice(head, this.lines.length - MAX_LOG_LINES);
    }
  }

  toJSON(): LogLine[] {
    return [...this.lines];
  }
}
