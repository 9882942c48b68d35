import { describeError } from '@vigil/contracts';
import type { Logger } from 'pino';
import type { JobProgress, JobStore } from './types';

/**
 * Coalesces a handler's progress calls into at most one write per interval, plus a final one, with one
 * write in flight at a time (so they land in order). When a write finds the job no longer running, the
 * job was cancelled elsewhere and `onNotRunning` fires.
 */
export class ProgressReporter {
  private latest: JobProgress | null = null;
  private written: JobProgress | null = null;
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: JobStore,
    private readonly jobId: string,
    private readonly intervalMs: number,
    private readonly logger: Logger,
    private readonly onNotRunning: () => void,
  ) {}

  report(done: number, total?: number | null, step?: string | null): void {
    if (this.stopped) return;
    this.latest = {
      done: toCount(done) ?? 0,
      total: total === undefined || total === null ? null : toCount(total),
      step: step === undefined || step === null ? null : String(step).slice(0, 500),
    };
    this.schedule();
  }

  /** Writes the latest value if it was not written yet, and stops further writes. */
  async flush(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    if (this.latest && this.latest !== this.written) await this.write();
  }

  /** Stops without writing (the job ended some other way). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopped || this.timer || this.inFlight) return;
    const wait = this.lastWriteAt + this.intervalMs - Date.now();
    if (wait <= 0) {
      void this.writeInBackground();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.writeInBackground();
    }, wait);
  }

  private async writeInBackground(): Promise<void> {
    if (this.stopped) return;
    this.inFlight = this.write();
    await this.inFlight;
    this.inFlight = undefined;
    if (this.latest !== this.written) this.schedule();
  }

  private async write(): Promise<void> {
    const progress = this.latest;
    if (!progress) return;
    this.written = progress;
    this.lastWriteAt = Date.now();
    try {
      const running = await this.store.reportProgress(this.jobId, progress);
      if (!running) this.onNotRunning();
    } catch (error) {
      // Progress is advisory: a failed write must not fail the job.
      this.logger.warn({ err: describeError(error) }, 'could not record job progress');
    }
  }
}

function toCount(value: number): number | null {
  if (!Number.isFinite(value)) return null;
  return Math.min(Math.max(0, Math.floor(value)), 2_147_483_647);
}
