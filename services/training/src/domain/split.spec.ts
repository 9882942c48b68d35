import { describe, expect, it } from '@jest/globals';
import { stratifiedSplit } from './split';

const items = [
  ...Array.from({ length: 20 }, (_, i) => ({ id: `n-${String(i).padStart(2, '0')}`, label: 'normal' })),
  ...Array.from({ length: 6 }, (_, i) => ({ id: `a-${i}`, label: 'anomaly' })),
  { id: 'lonely', label: 'odd' },
];

describe('stratifiedSplit', () => {
  it('holds out a seeded share of each label, reproducibly and whatever the input order', () => {
    const first = stratifiedSplit(items, { testFraction: 0.2, seed: 42 });
    const again = stratifiedSplit([...items].reverse(), { testFraction: 0.2, seed: 42 });
    expect(new Set(again.test.map((i) => i.id))).toEqual(new Set(first.test.map((i) => i.id)));
    expect(first.test.filter((i) => i.label === 'normal')).toHaveLength(4);
    expect(first.test.filter((i) => i.label === 'anomaly')).toHaveLength(1);
    // A label with one entry stays in training.
    expect(first.train.map((i) => i.id)).toContain('lonely');
    expect(first.train.length + first.test.length).toBe(items.length);
    const other = stratifiedSplit(items, { testFraction: 0.2, seed: 7 });
    expect(other.test.map((i) => i.id).sort()).not.toEqual(first.test.map((i) => i.id).sort());
  });

  it('never takes every entry of a label and takes at least one of a pair', () => {
    const pair = [
      { id: 'x', label: 'normal' },
      { id: 'y', label: 'normal' },
    ];
    const split = stratifiedSplit(pair, { testFraction: 0.9, seed: 1 });
    expect(split.test).toHaveLength(1);
    expect(split.train).toHaveLength(1);
  });

  it('does not modify its input', () => {
    const copy = items.map((i) => ({ ...i }));
    stratifiedSplit(items);
    expect(items).toEqual(copy);
  });
});
