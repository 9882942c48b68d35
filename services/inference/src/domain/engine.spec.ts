import { describe, expect, it } from '@jest/globals';
import { decodeImage } from '@vigil/images';
import { syntheticImage } from '@vigil/images/src/testing';
import { engineReadable } from './engine';

describe('engineReadable', () => {
  it('hands a BMP over as a PNG of the same pixels, and anything else as stored', async () => {
    const bmp = await syntheticImage({ format: 'bmp', width: 20, height: 12, seed: 5 });
    const png = await engineReadable(bmp);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const [a, b] = await Promise.all([decodeImage(bmp), decodeImage(png)]);
    expect({ width: b.width, height: b.height }).toEqual({ width: 20, height: 12 });
    expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
    const jpeg = await syntheticImage({ format: 'jpeg', width: 20, height: 12, seed: 5 });
    expect(await engineReadable(jpeg)).toBe(jpeg);
  });
});
