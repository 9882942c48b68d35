import type * as JpegTurbo from '@julusian/jpeg-turbo';
import sharp from 'sharp';
import { prepareImage } from './preprocess';

// The module object preprocess.ts calls into (an `import * as` would be an interop copy that spies cannot reach).
const jpegTurbo = jest.requireActual<typeof JpegTurbo>('@julusian/jpeg-turbo');

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

describe('full-resolution decoding (shrinkOnLoad: false)', () => {
  const width = 96;
  const height = 64;
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      pixels.set([(x * 5) % 256, (y * 7) % 256, ((x + y) * 3) % 256], (y * width + x) * 3);
  const raw = { raw: { width, height, channels: 3 as const } };
  const opts = { inputSize: 48, sizeMultiple: 8, shrinkOnLoad: false, iccProfile: 'ignore' as const };
  const diffs = (a: Float32Array, b: Float32Array): { max: number; mean: number } => {
    let max = 0;
    let sum = 0;
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs((a[i] as number) - (b[i] as number));
      max = Math.max(max, d);
      sum += d;
    }
    return { max, mean: sum / a.length };
  };

  it('reads a plain JPEG through libjpeg-turbo as sharp would at full resolution', async () => {
    const jpeg = await sharp(pixels, raw).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer();
    // The same JPEG as PNG-wrapped pixels decoded by sharp: the reference for the same maths without libjpeg-turbo.
    const decoded = await sharp(jpeg).raw().toBuffer();
    const png = await sharp(decoded, raw).png().toBuffer();
    const decodes = jest.spyOn(jpegTurbo, 'decompress');
    const direct = await prepareImage(jpeg, opts);
    expect(decodes).toHaveBeenCalledTimes(1); // the JPEG went to libjpeg-turbo
    const viaSharp = await prepareImage(png, opts);
    expect(decodes).toHaveBeenCalledTimes(1);
    await prepareImage(jpeg, { ...opts, shrinkOnLoad: true }); // older models keep libvips' shrink-on-load
    expect(decodes).toHaveBeenCalledTimes(1);
    decodes.mockRestore();
    expect([direct.netW, direct.netH, direct.width, direct.height]).toEqual([48, 32, 96, 64]);
    // The binding decodes with libjpeg-turbo's fast integer IDCT, libvips with the accurate one: a level of 255
    // or two on average on this hard-edged pattern, more at the sharpest edges (training and detection decode alike).
    const d = diffs(direct.tensor, viaSharp.tensor);
    expect(d.mean).toBeLessThan(2 / 255);
    expect(d.max).toBeLessThan(16 / 255);
  });

  it('reads a greyscale JPEG directly as three equal planes', async () => {
    const grey = await sharp(pixels, raw).toColourspace('b-w').jpeg({ quality: 95 }).toBuffer();
    expect((await sharp(grey).metadata()).channels).toBe(1);
    const viaSharp = await prepareImage(await sharp(grey).png().toBuffer(), opts);
    const direct = await prepareImage(grey, opts);
    const n = direct.netW * direct.netH;
    expect(direct.tensor.subarray(0, n)).toEqual(direct.tensor.subarray(n, 2 * n));
    expect(direct.tensor.subarray(0, n)).toEqual(direct.tensor.subarray(2 * n));
    expect(diffs(direct.tensor, viaSharp.tensor).mean).toBeLessThan(2 / 255);
  });

  it('orients an EXIF-rotated JPEG (through sharp) and names a truncated one INVALID_IMAGE', async () => {
    const rotated = await sharp(pixels, raw).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const decodes = jest.spyOn(jpegTurbo, 'decompress');
    const p = await prepareImage(rotated, opts);
    expect(decodes).not.toHaveBeenCalled(); // a rotation is sharp's to apply
    decodes.mockRestore();
    expect([p.width, p.height, p.netW, p.netH]).toEqual([64, 96, 32, 48]);
    const jpeg = await sharp(pixels, raw).jpeg().toBuffer();
    await expect(prepareImage(jpeg.subarray(0, jpeg.length >> 1), opts)).rejects.toMatchObject({
      code: 'INVALID_IMAGE',
    });
  });
});
