import { errors } from '@vigil/contracts';

/** What the cache needs of a loaded model. */
export interface Releasable {
  release(): Promise<void>;
}

interface Entry<M> {
  readonly loading: Promise<M>;
  users: number;
  evicted: boolean;
}

export interface CacheEvents {
  hit?(): void;
  miss?(): void;
  loaded?(seconds: number): void;
}

/**
 * Loaded models by artifact digest, least recently used evicted beyond `capacity`. A model in use when it is
 * evicted is released after its last user is done, never under a running detection.
 */
export class ModelCache<M extends Releasable> {
  private readonly entries = new Map<string, Entry<M>>();

  constructor(
    private readonly capacity: number,
    private readonly events: CacheEvents = {},
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw errors.badInput('model cache size must be at least 1');
  }

  /** Digests held, least recently used first. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  has(digest: string): boolean {
    return this.entries.has(digest);
  }

  /** Loads (once, shared by concurrent callers) and keeps the model; does not hold it in use. */
  async warm(digest: string, load: () => Promise<M>): Promise<void> {
    await this.use(digest, load, async () => undefined);
  }

  async use<T>(digest: string, load: () => Promise<M>, work: (model: M) => Promise<T>): Promise<T> {
    const entry = this.acquire(digest, load);
    try {
      const model = await entry.loading;
      return await work(model);
    } finally {
      entry.users -= 1;
      if (entry.evicted && entry.users === 0) await this.dispose(entry);
    }
  }

  /** Drops a model (a stopped version); released once nobody uses it. */
  async evict(digest: string): Promise<void> {
    const entry = this.entries.get(digest);
    if (!entry) return;
    this.entries.delete(digest);
    entry.evicted = true;
    if (entry.users === 0) await this.dispose(entry);
  }

  async clear(): Promise<void> {
    for (const digest of [...this.entries.keys()]) await this.evict(digest);
  }

  private acquire(digest: string, load: () => Promise<M>): Entry<M> {
    let entry = this.entries.get(digest);
    if (entry) {
      this.events.hit?.();
      // Most recently used goes last.
      this.entries.delete(digest);
      this.entries.set(digest, entry);
    } else {
      this.events.miss?.();
      const started = performance.now();
      const loading = load().then((model) => {
        this.events.loaded?.((performance.now() - started) / 1000);
        return model;
      });
      const created: Entry<M> = { loading, users: 0, evicted: false };
      entry = created;
      this.entries.set(digest, created);
      // A failed load must not stay cached: the next caller tries again.
      loading.catch(() => {
        if (this.entries.get(digest) === created) this.entries.delete(digest);
      });
      this.trim();
    }
    entry.users += 1;
    return entry;
  }

  private trim(): void {
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) return;
      void this.evict(oldest);
    }
  }

  private async dispose(entry: Entry<M>): Promise<void> {
    const model = await entry.loading.catch(() => null);
    await model?.release().catch(() => undefined);
  }
}
