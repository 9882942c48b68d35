/** mulberry32: a tiny seeded PRNG, so a split is reproducible from its seed (same as the dataset service's). */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const DEFAULT_SPLIT = { testFraction: 0.2, seed: 42 } as const;

/**
 * Splits a train dataset in memory like Lookout does for a project without a test dataset: a seeded,
 * label-stratified draw takes `testFraction` of each label (at least one of each label with two or more
 * entries, never all of them) for testing. The draw is the dataset service's `splitDataset` draw, so a user
 * who later splits the dataset for real with the same seed gets the same test set. Nothing is written.
 */
export function stratifiedSplit<T extends { readonly id: string; readonly label: string }>(
  items: readonly T[],
  options: { testFraction: number; seed: number } = DEFAULT_SPLIT,
): { train: T[]; test: T[] } {
  const random = seededRandom(options.seed);
  const byLabel = new Map<string, T[]>();
  for (const item of [...items].sort((a, b) => a.id.localeCompare(b.id))) {
    const group = byLabel.get(item.label) ?? [];
    group.push(item);
    byLabel.set(item.label, group);
  }
  const chosen = new Set<string>();
  for (const label of [...byLabel.keys()].sort()) {
    const group = byLabel.get(label) ?? [];
    if (group.length < 2) continue;
    const count = Math.min(group.length - 1, Math.max(1, Math.round(group.length * options.testFraction)));
    const shuffled = [...group];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j] as T, shuffled[i] as T];
    }
    for (const item of shuffled.slice(0, count)) chosen.add(item.id);
  }
  return { train: items.filter((i) => !chosen.has(i.id)), test: items.filter((i) => chosen.has(i.id)) };
}
