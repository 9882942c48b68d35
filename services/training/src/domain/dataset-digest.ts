import { createHash } from 'node:crypto';

export interface DigestEntry {
  readonly role: 'train' | 'test';
  readonly imageId: string;
  readonly label: string;
  readonly maskKey: string | null;
}

/**
 * sha256 over exactly the entries a version saw, one line each (role, image, label, mask key), sorted so
 * that the digest depends on the data and not on the order it was read in. The role is part of it: the same
 * images split differently train a different model.
 */
export function datasetDigest(entries: readonly DigestEntry[]): string {
  const lines = entries.map((e) => [e.role, e.imageId, e.label, e.maskKey ?? ''].join('\t')).sort();
  const hash = createHash('sha256');
  for (const line of lines) hash.update(`${line}\n`);
  return hash.digest('hex');
}
