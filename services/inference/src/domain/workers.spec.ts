import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '@vigil/service-kit';
import { desiredWorkers, WorkerRegistry, type InferenceWorker, type WorkerRepository } from './workers';

describe('desiredWorkers', () => {
  it('is ceil(pending / per-worker target), clamped to the deployment bounds', () => {
    expect(desiredWorkers(0, 20, 1, 4)).toBe(1);
    expect(desiredWorkers(21, 20, 1, 4)).toBe(2);
    expect(desiredWorkers(1_000, 20, 1, 4)).toBe(4);
    expect(desiredWorkers(0, 20, 2, 4)).toBe(2);
  });
});

class FakeRepo implements WorkerRepository {
  serving = new Set<string>();
  rows = new Map<string, InferenceWorker>();
  async heartbeat(worker: { id: string; host: string; pid: number; loadedDigests: readonly string[] }, at: Date) {
    const startedAt = this.rows.get(worker.id)?.startedAt ?? at;
    this.rows.set(worker.id, { ...worker, startedAt, lastSeenAt: at });
  }
  async remove(id: string) {
    this.rows.delete(id);
  }
  async removeStale(before: Date) {
    for (const [id, row] of this.rows) if (row.lastSeenAt < before) this.rows.delete(id);
  }
  async list(since: Date) {
    return [...this.rows.values()].filter((r) => r.lastSeenAt >= since);
  }
  async servingDigests() {
    return new Set(this.serving);
  }
  async pendingByHostedVersion() {
    return [{ modelVersionId: 'v1', artifactSha256: 'd1', minWorkers: 1, maxWorkers: 3, pending: 45 }];
  }
}

class FakeModels {
  loaded = new Set<string>();
  keys() {
    return [...this.loaded];
  }
  async evict(digest: string) {
    this.loaded.delete(digest);
  }
}

describe('WorkerRegistry', () => {
  it('drops the models no hosted version uses and reports what it keeps', async () => {
    const repo = new FakeRepo();
    const models = new FakeModels();
    models.loaded = new Set(['d1', 'd2']);
    repo.serving = new Set(['d1']);
    let now = new Date('2026-01-01T00:00:00Z');
    const registry = new WorkerRegistry(
      repo,
      models,
      silentLogger(),
      { heartbeatMs: 1000, jobsPerWorker: 20 },
      () => now,
    );
    await registry.tick();
    expect(models.keys()).toEqual(['d1']);
    expect(await registry.alive()).toEqual([expect.objectContaining({ id: registry.id, loadedDigests: ['d1'] })]);
    expect(await registry.loadedBy('d1')).toBe(1);
    expect(await registry.desired()).toEqual([
      expect.objectContaining({ modelVersionId: 'v1', desired: 3, loadedBy: 1 }),
    ]);
    // A process that stopped beating is no longer counted, and is forgotten later.
    now = new Date(now.getTime() + 20_000);
    expect(await registry.alive()).toEqual([]);
    await registry.stop();
    expect(repo.rows.size).toBe(0);
  });

  it('beats every interval once started, and deregisters when stopped', async () => {
    const repo = new FakeRepo();
    let beats = 0;
    const heartbeat = repo.heartbeat.bind(repo);
    repo.heartbeat = async (worker, at) => {
      beats += 1;
      await heartbeat(worker, at);
    };
    const registry = new WorkerRegistry(repo, new FakeModels(), silentLogger(), { heartbeatMs: 5, jobsPerWorker: 20 });
    registry.start();
    for (let i = 0; i < 400 && beats < 3; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    await registry.stop();
    expect(beats).toBeGreaterThanOrEqual(3);
    expect(repo.rows.size).toBe(0);
  });
});
