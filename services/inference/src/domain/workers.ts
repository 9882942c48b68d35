import os from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from '@vigil/service-kit';

/** One inference process as its heartbeat describes it. */
export interface InferenceWorker {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** sha256s of the model artifacts it has loaded. */
  readonly loadedDigests: readonly string[];
  readonly startedAt: Date;
  readonly lastSeenAt: Date;
}

/** A hosted version's inspections waiting or running, with its worker bounds. */
export interface PendingByVersion {
  readonly modelVersionId: string;
  readonly artifactSha256: string | null;
  readonly minWorkers: number;
  readonly maxWorkers: number;
  readonly pending: number;
}

export interface WorkerRepository {
  heartbeat(
    worker: { id: string; host: string; pid: number; loadedDigests: readonly string[] },
    at: Date,
  ): Promise<void>;
  remove(id: string): Promise<void>;
  removeStale(before: Date): Promise<void>;
  /** Workers seen since `since`, oldest first. */
  list(since: Date): Promise<InferenceWorker[]>;
  /** Artifact digests of the versions that are HOSTED or being started. */
  servingDigests(): Promise<Set<string>>;
  pendingByHostedVersion(): Promise<PendingByVersion[]>;
}

/** What the registry needs of the model cache. */
export interface LoadedModels {
  keys(): string[];
  evict(digest: string): Promise<void>;
}

export interface WorkerRegistryConfig {
  /** How often this process reports itself and sweeps its cache. */
  readonly heartbeatMs: number;
  /** Pending inspections one worker is expected to absorb; the desired worker count follows from it. */
  readonly jobsPerWorker: number;
}

/** Workers are alive when seen within this many heartbeats (and at least ALIVE_MIN_MS: a busy host lags). */
const ALIVE_HEARTBEATS = 3;
const ALIVE_MIN_MS = 5_000;
/** Rows of processes not seen for this many heartbeats are deleted. */
const FORGET_HEARTBEATS = 20;

/** clamp(ceil(pending / jobsPerWorker), min, max): what an autoscaler (KEDA, HPA) should run for a version. */
export function desiredWorkers(pending: number, jobsPerWorker: number, min: number, max: number): number {
  const wanted = Math.ceil(Math.max(0, pending) / Math.max(1, jobsPerWorker));
  return Math.min(max, Math.max(min, wanted));
}

/**
 * This process's entry in the worker registry, and the sweep that keeps its model cache to the hosted
 * versions: stopModel is handled by whichever process takes the call, so every other process drops a stopped
 * (or deleted) version's model at its next sweep. The detector's status check before each detection is what
 * guarantees that nothing new runs on a stopped version; the sweep frees the memory.
 */
export class WorkerRegistry {
  readonly id: string;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly repo: WorkerRepository,
    private readonly models: LoadedModels,
    private readonly log: Logger,
    private readonly config: WorkerRegistryConfig,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.id = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  }

  get jobsPerWorker(): number {
    return this.config.jobsPerWorker;
  }

  /** Reports now and then every heartbeat until stop(). */
  start(): void {
    if (this.timer) return;
    const beat = () => {
      // A slow beat is not overlapped: the next one waits for the interval after it.
      if (this.running) return;
      this.running = this.tick().finally(() => {
        this.running = null;
      });
    };
    beat();
    this.timer = setInterval(beat, this.config.heartbeatMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
    await this.repo
      .remove(this.id)
      .catch((error: unknown) => this.log.warn({ err: error }, 'worker deregistration failed'));
  }

  /** One sweep and heartbeat; failures are logged and retried at the next beat. */
  async tick(): Promise<void> {
    try {
      await this.sweep();
      const now = this.now();
      await this.repo.heartbeat(
        { id: this.id, host: os.hostname(), pid: process.pid, loadedDigests: this.models.keys() },
        now,
      );
      await this.repo.removeStale(new Date(now.getTime() - FORGET_HEARTBEATS * this.config.heartbeatMs));
    } catch (error) {
      this.log.warn({ err: error }, 'inference worker heartbeat failed');
    }
  }

  /** Drops every loaded model no hosted (or starting) version uses; returns the digests dropped. */
  async sweep(): Promise<string[]> {
    // Loaded before the read: a model loaded meanwhile (a version being started) is never swept by mistake.
    const loaded = this.models.keys();
    const serving = await this.repo.servingDigests();
    const dropped = loaded.filter((digest) => !serving.has(digest));
    for (const digest of dropped) await this.models.evict(digest);
    if (dropped.length) this.log.info({ dropped }, 'dropped models of versions no longer hosted');
    return dropped;
  }

  /** Workers alive now (seen within a few heartbeats). */
  alive(): Promise<InferenceWorker[]> {
    const window = Math.max(ALIVE_MIN_MS, ALIVE_HEARTBEATS * this.config.heartbeatMs);
    return this.repo.list(new Date(this.now().getTime() - window));
  }

  /** How many live workers have this artifact loaded. */
  async loadedBy(artifactSha256: string | null): Promise<number> {
    if (!artifactSha256) return 0;
    return (await this.alive()).filter((w) => w.loadedDigests.includes(artifactSha256)).length;
  }

  /** Desired workers per hosted version, for the autoscaling gauge. */
  async desired(): Promise<Array<PendingByVersion & { desired: number; loadedBy: number }>> {
    const [pending, workers] = await Promise.all([this.repo.pendingByHostedVersion(), this.alive()]);
    return pending.map((p) => ({
      ...p,
      desired: desiredWorkers(p.pending, this.config.jobsPerWorker, p.minWorkers, p.maxWorkers),
      loadedBy: p.artifactSha256
        ? workers.filter((w) => w.loadedDigests.includes(p.artifactSha256 as string)).length
        : 0,
    }));
  }
}
