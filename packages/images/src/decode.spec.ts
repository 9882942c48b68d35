import { describe, expect, it } from '@jest/globals';
import sharp from 'sharp';
import { ErrorCode } from '@vigil/contracts';
import { decodeBmp } from './bmp';
import { decodeImage, encodePng, samples16, toPng } from './decode';
import { probeImage } from './probe';
import { encodeTiff, exifRotatedJpeg, syntheticImage, texturePixels, truncatedJpeg } from './testing';

const W = 24;
const H = 16;

describe('decodeImage', () => {
  it('returns 8-bit grey PNG pixels exactly', async () => {
    const raw = texturePixels({ width: W, height: H, seed: 2 });
    const image = await decodeImage(await syntheticImage({ format: 'png', width: W, height: H, seed: 2 }));
    expect(image).toMatchObject({ format: 'png', width: W, height: H, channels: 1, bitDepth: 8 });
    expect([...image.data]).toEqual([...raw.data]);
  });

  it.each([
    ['PNG', 'png', 1],
    ['PNG', 'png', 3],
    ['TIFF', 'tiff', 1],
    ['TIFF', 'tiff', 3],
  ] as const)('returns 16-bit %s samples exactly (%s, %d channels)', async (_name, format, channels) => {
    const raw = texturePixels({ width: W, height: H, channels, bitDepth: 16, seed: 5 });
    const image = await decodeImage(
      await syntheticImage({ format, width: W, height: H, channels, bitDepth: 16, seed: 5 }),
    );
    expect(image).toMatchObject({ width: W, height: H, channels, bitDepth: 16 });
    expect(image.data.length).toBe(W * H * channels * 2);
    expect([...samples16(image)]).toEqual([...raw.data]);
  });

  it('reads big-endian 16-bit TIFF samples in the right byte order', async () => {
    const samples = [1, 256, 4660, 65535, 0, 43981];
    const image = await decodeImage(
      encodeTiff({ width: 3, height: 2, channels: 1, bitDepth: 16, samples, byteOrder: 'big' }),
    );
    expect([...samples16(image)]).toEqual(samples);
  });

  it('converts 16-bit to 8-bit as round(v / 257)', async () => {
    const raw = texturePixels({ width: W, height: H, bitDepth: 16, seed: 9 });
    const image = await decodeImage(
      await syntheticImage({ format: 'png', width: W, height: H, bitDepth: 16, seed: 9 }),
      {
        bitDepth: 8,
      },
    );
    expect(image).toMatchObject({ channels: 1, bitDepth: 8 });
    const expected = [...raw.data].map((v) => Math.round(v / 257));
    const off = [...image.data].filter((v, i) => Math.abs(v - expected[i]!) > 0).length;
    expect(off).toBe(0);
  });

  it('replicates grey into RGB on request, at 8 and 16 bits', async () => {
    const raw8 = texturePixels({ width: W, height: H, seed: 4 });
    const rgb8 = await decodeImage(await syntheticImage({ format: 'png', width: W, height: H, seed: 4 }), {
      colour: 'rgb',
    });
    expect(rgb8.channels).toBe(3);
    expect([...rgb8.data]).toEqual([...raw8.data].flatMap((v) => [v, v, v]));

    const raw16 = texturePixels({ width: W, height: H, bitDepth: 16, seed: 4 });
    const png16 = await syntheticImage({ format: 'png', width: W, height: H, bitDepth: 16, seed: 4 });
    const rgb16 = await decodeImage(png16, { colour: 'rgb' });
    expect(rgb16).toMatchObject({ channels: 3, bitDepth: 16 });
    expect([...samples16(rgb16)]).toEqual([...raw16.data].flatMap((v) => [v, v, v]));
  });

  it('converts colour to grey on request', async () => {
    const image = await decodeImage(await syntheticImage({ format: 'png', channels: 3 }), { colour: 'grey' });
    expect(image.channels).toBe(1);
  });

  it('decodes BMP through the same pipeline, pixel for pixel', async () => {
    for (const bmpBits of [24, 8] as const) {
      const bmp = await syntheticImage({ format: 'bmp', width: W, height: H, channels: 3, bmpBits, seed: 11 });
      const direct = decodeBmp(bmp, { maxPixels: 1e8 });
      const image = await decodeImage(bmp);
      expect(image).toMatchObject({ format: 'bmp', width: W, height: H, channels: 3, bitDepth: 8 });
      expect(image.data.equals(direct.data)).toBe(true);
    }
    const grey = await syntheticImage({ format: 'bmp', width: W, height: H, channels: 1, bmpBits: 8, seed: 11 });
    const greyImage = await decodeImage(grey);
    expect(greyImage.channels).toBe(1);
    expect([...greyImage.data]).toEqual([...texturePixels({ width: W, height: H, seed: 11 }).data]);
    const asRgb = await decodeImage(grey, { colour: 'rgb' });
    expect(asRgb.channels).toBe(3);
  });

  it('applies EXIF orientation to the pixels', async () => {
    const image = await decodeImage(await exifRotatedJpeg({ width: 64, height: 32, orientation: 6 }));
    expect(image).toMatchObject({ width: 32, height: 64, channels: 3 });
    // Orientation 6 displays the stored top-left corner at the top-right.
    const at = (x: number, y: number) => [...image.data.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3)];
    expect(at(29, 2)[0]).toBeGreaterThan(200);
    expect(at(2, 2)[0]).toBeLessThan(60);
  });

  it('keeps grey + alpha at 8 bits, and drops alpha on request', async () => {
    const ga = Buffer.from([0, 255, 50, 128, 100, 0, 250, 64]);
    const png = await sharp(ga, { raw: { width: 2, height: 2, channels: 2 } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    const image = await decodeImage(png);
    expect(image).toMatchObject({ channels: 2, bitDepth: 8 });
    expect([...image.data]).toEqual([...ga]);
    const opaque = await decodeImage(png, { removeAlpha: true });
    expect(opaque.channels).toBe(1);
    expect([...opaque.data]).toEqual([0, 50, 100, 250]);
  });

  it('keeps RGBA', async () => {
    const rgba = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const png = await sharp(rgba, { raw: { width: 2, height: 2, channels: 4 } })
      .png()
      .toBuffer();
    expect([...(await decodeImage(png)).data]).toEqual([...rgba]);
  });

  it('converts CMYK to RGB', async () => {
    const rgb = Buffer.alloc(8 * 8 * 3, 100);
    const cmyk = await sharp(rgb, { raw: { width: 8, height: 8, channels: 3 } })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    expect(await probeImage(cmyk)).toMatchObject({ format: 'jpeg', channels: 3, isGreyscale: false });
    const image = await decodeImage(cmyk);
    expect(image.channels).toBe(3);
    expect(image.data.length).toBe(8 * 8 * 3);
  });

  it('validates like probeImage', async () => {
    await expect(decodeImage(await truncatedJpeg())).rejects.toMatchObject({ code: ErrorCode.InvalidImage });
    await expect(decodeImage(Buffer.from('text'))).rejects.toMatchObject({ code: ErrorCode.UnsupportedMediaType });
    const png = await syntheticImage({ format: 'png' });
    await expect(decodeImage(png, { limits: { maxPixels: 10 } })).rejects.toMatchObject({
      code: ErrorCode.ImageTooLarge,
    });
  });
});

describe('toPng', () => {
  it.each(['jpeg', 'tiff', 'bmp', 'png'] as const)(
    'normalises %s to an 8-bit PNG of the same pixels',
    async (format) => {
      const source = await syntheticImage({ format, width: W, height: H, channels: 3, seed: 6 });
      const png = await toPng(source);
      expect(await probeImage(png)).toMatchObject({ format: 'png', width: W, height: H, channels: 3, bitDepth: 8 });
      const before = await decodeImage(source);
      const after = await decodeImage(png);
      expect(after.data.equals(before.data)).toBe(true);
    },
  );

  it('writes 8 bits by default and keeps 16 on request', async () => {
    const png16 = await syntheticImage({ format: 'tiff', width: W, height: H, bitDepth: 16, seed: 1 });
    expect(await probeImage(await toPng(png16))).toMatchObject({ bitDepth: 8, channels: 1 });
    const kept = await toPng(png16, { bitDepth: 'source' });
    expect(await probeImage(kept)).toMatchObject({ bitDepth: 16, channels: 1 });
    expect([...samples16(await decodeImage(kept))]).toEqual([
      ...texturePixels({ width: W, height: H, bitDepth: 16, seed: 1 }).data,
    ]);
  });

  it('bakes EXIF orientation into the pixels', async () => {
    const png = await toPng(await exifRotatedJpeg({ width: 64, height: 32, orientation: 6 }));
    expect(await probeImage(png)).toMatchObject({ width: 32, height: 64, orientation: 1 });
  });

  it('encodePng rejects raw data of the wrong size', async () => {
    await expect(
      encodePng({ data: Buffer.alloc(5), width: 2, height: 2, channels: 1, bitDepth: 8 }),
    ).rejects.toMatchObject({ code: ErrorCode.BadUserInput });
  });
});
