import { describe, expect, it } from '@jest/globals';
import { datasetDigest, type DigestEntry } from './dataset-digest';

const a = 'a'.repeat(64);
const b = 'b'.repeat(64);
const entries: DigestEntry[] = [
  { role: 'train', imageId: a, label: 'normal', maskKey: null },
  { role: 'test', imageId: b, label: 'anomaly', maskKey: 'objects/cc/dd/mask' },
];

describe('datasetDigest', () => {
  it('is a stable sha256 that does not depend on the order entries were read in', () => {
    const digest = datasetDigest(entries);
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    expect(datasetDigest([...entries].reverse())).toBe(digest);
    // Pinned: the digest of a given data set must not change between releases.
    expect(datasetDigest([])).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('changes with a label, a mask, an image or the role of an entry', () => {
    const digest = datasetDigest(entries);
    const variants: DigestEntry[][] = [
      [{ ...entries[0]!, label: 'anomaly' }, entries[1]!],
      [entries[0]!, { ...entries[1]!, maskKey: null }],
      [{ ...entries[0]!, imageId: 'c'.repeat(64) }, entries[1]!],
      [{ ...entries[0]!, role: 'test' }, entries[1]!],
      [entries[0]!],
    ];
    for (const variant of variants) expect(datasetDigest(variant)).not.toBe(digest);
  });
});
