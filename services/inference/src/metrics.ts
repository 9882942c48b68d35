import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheEvents } from './domain/model-cache';

/** A hosted version's load, as the autoscaling gauges report it. */
export interface DeploymentLoad {
  readonly modelVersionId: string;
  readonly desired: number;
  readonly loadedBy: number;
  readonly pending: number;
}

/**
 * Prometheus metrics of the inference workers and queues, in a registry of their own (not prom-client's
 * global one) so several instances in one process (tests) never collide. Rates (images/s) come from the
 * counters with PromQL `rate()`.
 */
export class InferenceMetrics {
  readonly registry = new Registry();
  private readonly jobSeconds: Histogram<'queue' | 'outcome'>;
  private readonly images: Counter<'queue' | 'outcome'>;
  private readonly loadSeconds: Histogram;
  private readonly cacheHits: Counter;
  private readonly cacheMisses: Counter;

  constructor(
    queueDepth: () => Promise<Record<string, number>>,
    deployments: () => Promise<readonly DeploymentLoad[]> = async () => [],
  ) {
    const registers = [this.registry];
    // Per hosted version, for an autoscaler (KEDA / HPA on an external metric): how many workers it should
    // have, clamp(ceil(pending / per-worker target), minWorkers, maxWorkers), and how many have it loaded.
    // Read at scrape time from the shared database, so every process reports the same values.
    // prom-client collects all metrics concurrently: the three gauges share one in-flight database read.
    let inflight: Promise<void> | null = null;
    const refresh = (): Promise<void> =>
      (inflight ??= (async () => {
        const rows = await deployments();
        for (const gauge of Object.values(gauges)) gauge.reset();
        for (const row of rows) {
          const labels = { model_version_id: row.modelVersionId };
          gauges.desired.set(labels, row.desired);
          gauges.loaded.set(labels, row.loadedBy);
          gauges.pending.set(labels, row.pending);
        }
      })().finally(() => {
        inflight = null;
      }));
    const gauges = {
      desired: new Gauge({
        name: 'vigil_inference_desired_workers',
        help: 'Workers a hosted model version should have: clamp(ceil(pending / per-worker target), min, max)',
        labelNames: ['model_version_id'],
        registers,
        collect: refresh,
      }),
      loaded: new Gauge({
        name: 'vigil_inference_workers_loaded',
        help: 'Live inference workers that have a hosted model version loaded',
        labelNames: ['model_version_id'],
        registers,
        collect: refresh,
      }),
      pending: new Gauge({
        name: 'vigil_inference_pending_inspections',
        help: 'Inspections queued or running per hosted model version',
        labelNames: ['model_version_id'],
        registers,
        collect: refresh,
      }),
    };
    new Gauge({
      name: 'vigil_inference_queue_depth',
      help: 'Detection jobs queued or running, per queue',
      labelNames: ['queue'],
      registers,
      async collect() {
        for (const [queue, depth] of Object.entries(await queueDepth())) this.set({ queue }, depth);
      },
    });
    this.jobSeconds = new Histogram({
      name: 'vigil_inference_job_duration_seconds',
      help: 'From the request to the recorded verdict, per queue',
      labelNames: ['queue', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    });
    this.images = new Counter({
      name: 'vigil_inference_images_total',
      help: 'Images inspected (rate() gives images/s), per queue and outcome',
      labelNames: ['queue', 'outcome'],
      registers,
    });
    this.loadSeconds = new Histogram({
      name: 'vigil_inference_model_load_seconds',
      help: 'Time to load a model artifact into a worker',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.cacheHits = new Counter({
      name: 'vigil_inference_model_cache_hits_total',
      help: 'Detections that found their model loaded',
      registers,
    });
    this.cacheMisses = new Counter({
      name: 'vigil_inference_model_cache_misses_total',
      help: 'Detections (or starts) that had to load their model',
      registers,
    });
  }

  inspected(queue: string, outcome: 'done' | 'failed', seconds: number): void {
    this.images.inc({ queue, outcome });
    this.jobSeconds.observe({ queue, outcome }, seconds);
  }

  get cacheEvents(): CacheEvents {
    return {
      hit: () => this.cacheHits.inc(),
      miss: () => this.cacheMisses.inc(),
      loaded: (seconds) => this.loadSeconds.observe(seconds),
    };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
