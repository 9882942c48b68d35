import { describe, expect, it } from '@jest/globals';
import { uniformSize } from './image-size';

describe('uniformSize', () => {
  it('is the size when every image has it', () => {
    expect(
      uniformSize([
        { width: 64, height: 48 },
        { width: 64, height: 48 },
      ]),
    ).toEqual({ width: 64, height: 48 });
  });

  it('is null for mixed sizes, an unknown size or no images', () => {
    expect(
      uniformSize([
        { width: 64, height: 48 },
        { width: 48, height: 64 },
      ]),
    ).toBeNull();
    expect(uniformSize([{ width: 64, height: 48 }, {}])).toBeNull();
    expect(uniformSize([])).toBeNull();
  });
});
