/** What a transport carries: the row id (the jobs table has the rest) and, for visibility, queue and kind. */
export interface JobRef {
  readonly id: string;
  readonly queue: string;
  readonly kind: string;
}

/**
 * How a delivery ended, as far as the transport is concerned:
 * - done: nothing more to deliver (succeeded, failed for good, cancelled, or nothing to do);
 * - retry: deliver again after delayMs (the row is queued again);
 * - release: the runner is shutting down; deliver again later, to whichever runner takes it.
 */
export type DeliveryOutcome =
  { readonly type: 'done' } | { readonly type: 'retry'; readonly delayMs: number } | { readonly type: 'release' };

export type DeliverJob = (job: JobRef) => Promise<DeliveryOutcome>;

/**
 * Moves job ids from submit() to a runner. The jobs table is the source of truth; a transport only has to
 * deliver each enqueued id at least once and not run the same id twice at the same time.
 */
export interface JobTransport {
  readonly name: string;
  /** Starts delivering jobs of `queues` to `deliver`. Enqueueing works before start(). */
  start(queues: readonly string[], deliver: DeliverJob): Promise<void>;
  /** A no-op while the same id is already waiting, delayed or being delivered. */
  enqueue(job: JobRef, options?: { readonly delayMs?: number }): Promise<void>;
  /**
   * The refs among `jobs` this transport does not hold (waiting, delayed or being delivered): what was lost,
   * e.g. when Redis restarted empty, and must be enqueued again from the jobs table.
   */
  missing(jobs: readonly JobRef[]): Promise<JobRef[]>;
  /**
   * Calls `listener` each time the transport's backing store is reachable again after a loss (Redis
   * reconnected: it may have come back empty). Returns a function that unsubscribes.
   */
  onReconnect?(listener: () => void): () => void;
  /** Stops taking new deliveries; deliveries under way go on. */
  pause(): Promise<void>;
  /** Waits for deliveries under way, then frees everything. Pending jobs stay queued in the jobs table. */
  close(): Promise<void>;
}
