import sharp from 'sharp';
import { prepareImage } from './preprocess';

describe('preprocessing an image with an embedded ICC profile', () => {
  it('uses the stored values when told to ignore the profile, and converts to sRGB otherwise', async () => {
    const width = 64;
    const height = 48;
    const pixels = Buffer.alloc(width * height * 3);
    for (let i = 0; i < width * height; i++) pixels.set([200, 40 + (i % 50), 30], i * 3);
    const raw = { raw: { width, height, channels: 3 as const } };
    // withIccProfile converts the sRGB pixels into Display P3 and tags the file with that profile.
    const tagged = await sharp(pixels, raw).withIccProfile('p3').png().toBuffer();
    expect((await sharp(tagged).metadata()).hasProfile).toBe(true);
    const stored = await sharp(tagged).keepIccProfile().raw().toBuffer();
    const opts = { inputSize: 64, sizeMultiple: 16 }; // 64 x 48 stays 64 x 48: no resampling
    const ignored = await prepareImage(tagged, { ...opts, iccProfile: 'ignore' });
    const converted = await prepareImage(tagged, { ...opts, iccProfile: 'convert' });
    const n = width * height;
    const planar = (src: Buffer): number[] =>
      Array.from({ length: 3 * n }, (_, i) => (src[(i % n) * 3 + Math.floor(i / n)] as number) / 255);
    const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
      let d = 0;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
      return d;
    };
    expect(maxDiff(ignored.tensor, planar(stored))).toBeLessThan(1e-6);
    expect(maxDiff(converted.tensor, planar(pixels))).toBeLessThan(3 / 255); // back to sRGB, up to rounding
    expect(maxDiff(ignored.tensor, planar(pixels))).toBeGreaterThan(0.02);
  });
});
