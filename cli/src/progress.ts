import { SingleBar, Presets } from 'cli-progress';

export interface JobState {
  status: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  progress: { done: number; total: number | null; step: string | null };
  error: { code: string; message: string } | null;
}

/**
 * Polls a job until it ends, drawing a progress bar on a terminal (plain lines otherwise), and returns
 * its final state. `read` fetches the job; its shape is the same for every job type.
 */
export async function followJob<T extends JobState>(
  read: () => Promise<T>,
  options: { label: string; intervalMs?: number },
): Promise<T> {
  const interactive = Boolean(process.stderr.isTTY);
  const bar = new SingleBar(
    {
      format: `${options.label} [{bar}] {value}/{total} {step}`,
      stream: process.stderr,
      hideCursor: true,
      noTTYOutput: false,
    },
    Presets.shades_classic,
  );
  let started = false;
  let lastLogged = -1;
  for (;;) {
    const job = await read();
    const total = job.progress.total ?? 0;
    if (interactive) {
      if (!started && total > 0) {
        bar.start(total, job.progress.done, { step: job.progress.step ?? '' });
        started = true;
      } else if (started) {
        bar.setTotal(total);
        bar.update(job.progress.done, { step: job.progress.step ?? '' });
      }
    } else if (
      total > 0 &&
      job.progress.done !== lastLogged &&
      (job.progress.done === total || job.progress.done - lastLogged >= Math.max(1, Math.floor(total / 10)))
    ) {
      process.stderr.write(`${options.label}: ${job.progress.done}/${total} ${job.progress.step ?? ''}\n`);
      lastLogged = job.progress.done;
    }
    if (job.status === 'SUCCEEDED' || job.status === 'FAILED' || job.status === 'CANCELLED') {
      if (started) bar.stop();
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}
