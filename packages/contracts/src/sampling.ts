/** mulberry32: a tiny seeded PRNG, so every seeded draw in Vigil is reproducible from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seeded, label-stratified draw of `fraction` of each label (at least one of each label with two or more
 * items, never all of them), independent of the input order. The dataset service splits datasets with it and
 * the training service splits in memory with it, so the same seed picks the same test set in both.
 */
export function stratifiedSample<T extends { readonly label: string; readonly id: string }>(
  items: readonly T[],
  fraction: number,
  seed: number,
): T[] {
  const random = seededRandom(seed);
  const byLabel = new Map<string, T[]>();
  for (const item of [...items].sort((a, b) => a.id.localeCompare(b.id))) {
    const group = byLabel.get(item.label) ?? [];
    group.push(item);
    byLabel.set(item.label, group);
  }
  const chosen: T[] = [];
  for (const label of [...byLabel.keys()].sort()) {
    const group = byLabel.get(label) ?? [];
    if (group.length < 2) continue;
    const count = Math.min(group.length - 1, Math.max(1, Math.round(group.length * fraction)));
    // Fisher-Yates on a copy, then take the first `count`.
    const shuffled = [...group];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [shuffled[i], shuffled[j]] = [shuffled[j] as T, shuffled[i] as T];
    }
    chosen.push(...shuffled.slice(0, count));
  }
  return chosen;
}
