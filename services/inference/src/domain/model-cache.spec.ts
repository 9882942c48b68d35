import { describe, expect, it } from '@jest/globals';
import { ModelCache } from './model-cache';

class FakeModel {
  released = false;
  constructor(readonly name: string) {}
  async release(): Promise<void> {
    this.released = true;
  }
}

describe('ModelCache', () => {
  it('evicts the least recently used model beyond its size and releases it', async () => {
    const loaded: FakeModel[] = [];
    const events = { hits: 0, misses: 0 };
    const cache = new ModelCache<FakeModel>(2, { hit: () => events.hits++, miss: () => events.misses++ });
    const load = (name: string) => async () => {
      const model = new FakeModel(name);
      loaded.push(model);
      return model;
    };
    await cache.warm('a', load('a'));
    await cache.warm('b', load('b'));
    await cache.use('a', load('a'), async () => undefined); // a is now the most recent
    await cache.warm('c', load('c')); // evicts b
    expect(cache.keys()).toEqual(['a', 'c']);
    expect(loaded.map((m) => [m.name, m.released])).toEqual([
      ['a', false],
      ['b', true],
      ['c', false],
    ]);
    expect(events).toEqual({ hits: 1, misses: 3 });
  });

  it('never releases a model while a detection uses it', async () => {
    const cache = new ModelCache<FakeModel>(1);
    const a = new FakeModel('a');
    let finish: () => void = () => undefined;
    const inUse = cache.use(
      'a',
      async () => a,
      () => new Promise<void>((resolve) => (finish = resolve)),
    );
    await new Promise((resolve) => setImmediate(resolve));
    await cache.warm('b', async () => new FakeModel('b'));
    expect(cache.keys()).toEqual(['b']);
    expect(a.released).toBe(false);
    finish();
    await inUse;
    expect(a.released).toBe(true);
  });

  it('loads once for concurrent callers and forgets a failed load', async () => {
    const cache = new ModelCache<FakeModel>(2);
    let loads = 0;
    const load = async () => {
      loads++;
      return new FakeModel('a');
    };
    await Promise.all([cache.warm('a', load), cache.warm('a', load)]);
    expect(loads).toBe(1);
    await expect(cache.warm('x', async () => Promise.reject(new Error('bad artifact')))).rejects.toThrow(
      'bad artifact',
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(cache.has('x')).toBe(false);
  });
});
