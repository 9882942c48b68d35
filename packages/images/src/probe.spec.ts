import { describe, expect, it, jest } from '@jest/globals';
import sharp from 'sharp';
import { ErrorCode, VigilError } from '@vigil/contracts';
import { probeImage, type ImageProbe } from './probe';
import type * as ProbeModule from './probe';
import {
  encodeTiff,
  exifRotatedJpeg,
  pixelBombPng,
  syntheticImage,
  texturePixels,
  truncatedJpeg,
  type SyntheticImageOptions,
} from './testing';

async function rejection(promise: Promise<unknown>): Promise<VigilError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof VigilError) return error;
    throw error;
  }
  throw new Error('expected a VigilError');
}

const W = 40;
const H = 24;

describe('probeImage: formats and bit depths', () => {
  const cases: Array<[string, SyntheticImageOptions, Partial<ImageProbe>]> = [
    ['PNG 8-bit grey', { format: 'png', channels: 1, bitDepth: 8 }, { channels: 1, bitDepth: 8, isGreyscale: true }],
    ['PNG 8-bit RGB', { format: 'png', channels: 3, bitDepth: 8 }, { channels: 3, bitDepth: 8, isGreyscale: false }],
    ['PNG 16-bit grey', { format: 'png', channels: 1, bitDepth: 16 }, { channels: 1, bitDepth: 16, isGreyscale: true }],
    ['PNG 16-bit RGB', { format: 'png', channels: 3, bitDepth: 16 }, { channels: 3, bitDepth: 16, isGreyscale: false }],
    ['JPEG grey', { format: 'jpeg', channels: 1 }, { channels: 1, bitDepth: 8, isGreyscale: true }],
    ['JPEG RGB', { format: 'jpeg', channels: 3 }, { channels: 3, bitDepth: 8, isGreyscale: false }],
    ['TIFF 8-bit grey', { format: 'tiff', channels: 1, bitDepth: 8 }, { channels: 1, bitDepth: 8, isGreyscale: true }],
    ['TIFF 8-bit RGB', { format: 'tiff', channels: 3, bitDepth: 8 }, { channels: 3, bitDepth: 8 }],
    [
      'TIFF 16-bit grey',
      { format: 'tiff', channels: 1, bitDepth: 16 },
      { channels: 1, bitDepth: 16, isGreyscale: true },
    ],
    ['TIFF 16-bit RGB', { format: 'tiff', channels: 3, bitDepth: 16 }, { channels: 3, bitDepth: 16 }],
    ['BMP 24-bit', { format: 'bmp', channels: 3, bmpBits: 24 }, { channels: 3, bitDepth: 8, isGreyscale: false }],
    [
      'BMP 8-bit grey palette',
      { format: 'bmp', channels: 1, bmpBits: 8 },
      { channels: 1, bitDepth: 8, isGreyscale: true },
    ],
    ['BMP 8-bit colour palette', { format: 'bmp', channels: 3, bmpBits: 8 }, { channels: 3, bitDepth: 8 }],
  ];

  it.each(cases)('%s', async (_name, options, expected) => {
    const bytes = await syntheticImage({ width: W, height: H, seed: 7, ...options });
    const probe = await probeImage(bytes);
    expect(probe).toMatchObject({
      format: options.format,
      byteSize: bytes.length,
      width: W,
      height: H,
      orientation: 1,
      orientedWidth: W,
      orientedHeight: H,
      hasAlpha: false,
      ...expected,
    });
  });

  it('reads BigTIFF', async () => {
    const raw = texturePixels({ width: W, height: H, bitDepth: 16 });
    const bytes = await sharp(raw.data, { raw: { width: W, height: H, channels: 1 } })
      .toColourspace('grey16')
      .tiff({ compression: 'lzw', bigtiff: true })
      .toBuffer();
    expect(bytes.readUInt16LE(2)).toBe(43);
    expect(await probeImage(bytes)).toMatchObject({ format: 'tiff', width: W, height: H, bitDepth: 16, channels: 1 });
  });

  it.each(['little', 'big'] as const)('reads %s-endian 16-bit TIFF', async (byteOrder) => {
    const bytes = encodeTiff({
      width: 3,
      height: 2,
      channels: 1,
      bitDepth: 16,
      samples: [1, 2, 3, 4, 5, 6],
      byteOrder,
    });
    expect(await probeImage(bytes)).toMatchObject({
      format: 'tiff',
      width: 3,
      height: 2,
      bitDepth: 16,
      isGreyscale: true,
    });
  });

  it('reports alpha', async () => {
    const rgba = Buffer.alloc(4 * 4 * 4, 200);
    const bytes = await sharp(rgba, { raw: { width: 4, height: 4, channels: 4 } })
      .png()
      .toBuffer();
    expect(await probeImage(bytes)).toMatchObject({ channels: 4, hasAlpha: true, isGreyscale: false });
  });

  it('applies EXIF orientation to the reported dimensions', async () => {
    const probe = await probeImage(await exifRotatedJpeg({ width: 64, height: 32, orientation: 6 }));
    expect(probe).toMatchObject({ width: 64, height: 32, orientation: 6, orientedWidth: 32, orientedHeight: 64 });
  });

  it('keeps dimensions for orientations that do not transpose', async () => {
    const probe = await probeImage(await exifRotatedJpeg({ width: 64, height: 32, orientation: 3 }));
    expect(probe).toMatchObject({ orientation: 3, orientedWidth: 64, orientedHeight: 32 });
  });
});

describe('probeImage: bad input', () => {
  it('rejects a truncated JPEG as INVALID_IMAGE', async () => {
    const error = await rejection(probeImage(await truncatedJpeg()));
    expect(error.code).toBe(ErrorCode.InvalidImage);
    expect(error.message).toMatch(/^JPEG image could not be decoded: .*premature end/i);
  });

  it('rejects a truncated PNG as INVALID_IMAGE', async () => {
    const png = await syntheticImage({ format: 'png', width: 64, height: 64, seed: 3 });
    const error = await rejection(probeImage(png.subarray(0, Math.floor(png.length * 0.7))));
    expect(error.code).toBe(ErrorCode.InvalidImage);
    expect(error.message).toMatch(/^PNG image could not be decoded/);
  });

  it('rejects a PNG with a corrupted data chunk as INVALID_IMAGE', async () => {
    const png = Buffer.from(await syntheticImage({ format: 'png', width: 64, height: 64, seed: 3 }));
    png[png.length - 40] = png[png.length - 40]! ^ 0xff;
    expect((await rejection(probeImage(png))).code).toBe(ErrorCode.InvalidImage);
  });

  it('rejects corrupt JPEG scan data at the default strictness, and tolerates it when asked', async () => {
    const jpeg = Buffer.from(await syntheticImage({ format: 'jpeg', width: 128, height: 128, channels: 3 }));
    jpeg.fill(0xff, 700, 800);
    const error = await rejection(probeImage(jpeg));
    expect(error.code).toBe(ErrorCode.InvalidImage);
    expect(error.message).toMatch(/Corrupt JPEG data/);
    await expect(probeImage(jpeg, { failOn: 'truncated' })).resolves.toMatchObject({ format: 'jpeg' });
  });

  it('rejects a TIFF whose strip is cut short as INVALID_IMAGE', async () => {
    const tiff = encodeTiff({ width: 8, height: 8, channels: 1, bitDepth: 16, samples: new Array(64).fill(9) });
    const error = await rejection(probeImage(tiff.subarray(0, tiff.length - 20)));
    expect(error.code).toBe(ErrorCode.InvalidImage);
    expect(error.message).toMatch(/^TIFF image could not be decoded: .*read error/i);
  });

  it('rejects a TIFF whose directory is missing as INVALID_IMAGE', async () => {
    // sharp writes the directory last, so a cut file loses it.
    const tiff = await syntheticImage({ format: 'tiff', width: 32, height: 32 });
    const error = await rejection(probeImage(tiff.subarray(0, Math.floor(tiff.length / 2))));
    expect(error.code).toBe(ErrorCode.InvalidImage);
    expect(error.message).toMatch(/first image directory .* outside the file/);
  });

  it('rejects a truncated BMP as INVALID_IMAGE', async () => {
    const bmp = await syntheticImage({ format: 'bmp', width: 32, height: 32 });
    expect((await rejection(probeImage(bmp.subarray(0, bmp.length - 100)))).code).toBe(ErrorCode.InvalidImage);
  });

  it('rejects a PNG decompression bomb from its header, before decoding', async () => {
    const bomb = pixelBombPng({ width: 100_000, height: 100_000 });
    expect(bomb.length).toBeLessThan(200);
    const error = await rejection(probeImage(bomb));
    expect(error.code).toBe(ErrorCode.ImageTooLarge);
    // Only the header check knows the dimensions; sharp's own limit error does not carry them.
    expect(error.details).toEqual({
      reason: 'pixels',
      width: 100_000,
      height: 100_000,
      pixels: 10_000_000_000,
      maxPixels: 100_000_000,
    });
  });

  it('never hands a bomb to the decoder', async () => {
    const decoder = jest.fn(() => {
      throw new Error('the decoder must not be called');
    });
    await jest.isolateModulesAsync(async () => {
      jest.doMock('sharp', () => decoder);
      const isolated = jest.requireActual<typeof ProbeModule>('./probe');
      // The isolated registry has its own copy of VigilError, so compare codes, not classes.
      await expect(isolated.probeImage(pixelBombPng())).rejects.toMatchObject({ code: ErrorCode.ImageTooLarge });
      expect(decoder).not.toHaveBeenCalled();
      // The mock is wired: an ordinary image does reach it.
      await expect(isolated.probeImage(await syntheticImage({ format: 'png' }))).rejects.toMatchObject({
        code: ErrorCode.InvalidImage,
      });
      expect(decoder).toHaveBeenCalled();
    });
    jest.dontMock('sharp');
  });

  it('rejects JPEG and TIFF headers that declare too many pixels', async () => {
    const jpeg = Buffer.from(await syntheticImage({ format: 'jpeg', width: 16, height: 16 }));
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    jpeg.writeUInt16BE(60_000, sof + 5);
    jpeg.writeUInt16BE(60_000, sof + 7);
    expect(await rejection(probeImage(jpeg))).toMatchObject({
      code: ErrorCode.ImageTooLarge,
      details: { width: 60_000 },
    });

    const tiff = encodeTiff({ width: 2, height: 2, channels: 1, bitDepth: 8, samples: [1, 2, 3, 4] });
    tiff.writeUInt32LE(1_000_000, 8 + 2 + 8); // ImageWidth, the first entry's value
    tiff.writeUInt32LE(1_000_000, 8 + 2 + 12 + 8); // ImageLength
    expect(await rejection(probeImage(tiff))).toMatchObject({
      code: ErrorCode.ImageTooLarge,
      details: { height: 1_000_000 },
    });
  });

  it('enforces a configured pixel limit', async () => {
    const png = await syntheticImage({ format: 'png', width: 40, height: 30 });
    expect(await rejection(probeImage(png, { maxPixels: 1199 }))).toMatchObject({ code: ErrorCode.ImageTooLarge });
    await expect(probeImage(png, { maxPixels: 1200 })).resolves.toMatchObject({ width: 40 });
  });

  it('enforces the byte limit before looking at the content', async () => {
    const png = await syntheticImage({ format: 'png' });
    const error = await rejection(probeImage(png, { maxBytes: 100 }));
    expect(error).toMatchObject({ code: ErrorCode.ImageTooLarge, details: { reason: 'bytes', maxBytes: 100 } });
  });

  it('rejects GIF and non-images as UNSUPPORTED_MEDIA_TYPE', async () => {
    const gif = await sharp(Buffer.alloc(12, 9), { raw: { width: 2, height: 2, channels: 3 } })
      .gif()
      .toBuffer();
    expect(await rejection(probeImage(gif))).toMatchObject({ code: ErrorCode.UnsupportedMediaType });
    const text = await rejection(probeImage(Buffer.from('not an image at all')));
    expect(text).toMatchObject({ code: ErrorCode.UnsupportedMediaType, message: expect.stringMatching(/text file/) });
  });

  it('rejects a file with a valid signature and garbage after it as INVALID_IMAGE', async () => {
    const fakePng = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(40, 7)]);
    expect((await rejection(probeImage(fakePng))).code).toBe(ErrorCode.InvalidImage);
    const fakeJpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x02, 0x12, 0x34]);
    expect((await rejection(probeImage(fakeJpeg))).code).toBe(ErrorCode.InvalidImage);
    const fakeTiff = Buffer.from([0x49, 0x49, 0x2a, 0x00, 0xff, 0xff, 0x00, 0x00]);
    expect((await rejection(probeImage(fakeTiff))).code).toBe(ErrorCode.InvalidImage);
  });
});
