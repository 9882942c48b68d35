import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CacheEvents } from './domain/model-cache';

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

  constructor(queueDepth: () => Promise<Record<string, number>>) {
    const registers = [this.registry];
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
