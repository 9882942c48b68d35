import { describe, expect, it } from '@jest/globals';
import { comparePaths, naturalCompare } from './natural-sort';

describe('naturalCompare', () => {
  it('orders numbers by value and text without regard to case', () => {
    const names = ['image-10.png', 'Image-1.png', 'image-2.png', 'image-02b.png', 'b', 'A', 'a', 'image-002.png'];
    expect([...names].sort(naturalCompare)).toEqual([
      'A',
      'a',
      'b',
      'Image-1.png',
      'image-002.png',
      'image-2.png',
      'image-02b.png',
      'image-10.png',
    ]);
  });

  it('is deterministic whatever the input order', () => {
    const names = ['x10', 'x9', 'X9', 'x09', 'x', 'x-1', 'x_1', '10', '9', ''];
    const once = [...names].sort(naturalCompare);
    expect([...names].reverse().sort(naturalCompare)).toEqual(once);
    expect(once.slice(0, 3)).toEqual(['', '9', '10']);
  });

  it('handles numbers longer than a double', () => {
    expect(naturalCompare('a99999999999999999999', 'a100000000000000000000')).toBeLessThan(0);
  });
});

describe('comparePaths', () => {
  it('keeps folders together and ignores case across the path', () => {
    const paths = ['b/1.png', 'a-b/1.png', 'a/10.png', 'A/2.png', 'a/sub/1.png', 'a/1.png'];
    expect([...paths].sort(comparePaths)).toEqual([
      'a/1.png',
      'A/2.png',
      'a/10.png',
      'a/sub/1.png',
      'a-b/1.png',
      'b/1.png',
    ]);
  });
});
