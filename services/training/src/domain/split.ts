import { stratifiedSample } from '@vigil/contracts';

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
  const chosen = new Set(stratifiedSample(items, options.testFraction, options.seed).map((item) => item.id));
  return { train: items.filter((i) => !chosen.has(i.id)), test: items.filter((i) => chosen.has(i.id)) };
}
