import { describe, expect, it, jest } from '@jest/globals';
import { ErrorCode, VigilError } from '@vigil/contracts';
import { decodeBmp, readBmpHeader } from './bmp';
import { encodeBmp, seededRandom, type Rgb } from './testing';

const LIMITS = { maxPixels: 100_000_000 };

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof VigilError) return error.code;
    throw error;
  }
  return 'no error';
}

function errorOf(run: () => unknown): VigilError {
  try {
    run();
  } catch (error) {
    if (error instanceof VigilError) return error;
    throw error;
  }
  throw new Error('expected a VigilError');
}

/** The 2×2 example from the BMP article most people learn the format from, byte for byte. */
const TWO_BY_TWO = Buffer.from(
  [
    '424d 46000000 0000 0000 36000000', // file header: size 70, pixels at 54
    '28000000 02000000 02000000 0100 1800 00000000 10000000 130b0000 130b0000 00000000 00000000',
    '0000ff ffffff 0000', // bottom row: red, white, padding
    'ff0000 00ff00 0000', // top row: blue, green, padding
  ]
    .join('')
    .replace(/ /g, ''),
  'hex',
);

describe('decodeBmp', () => {
  it('decodes a literal 24-bit bottom-up file pixel-exactly', () => {
    const image = decodeBmp(TWO_BY_TWO, LIMITS);
    expect(image).toMatchObject({ width: 2, height: 2, channels: 3, bitsPerPixel: 24 });
    // Top row: blue, green. Bottom row: red, white.
    expect([...image.data]).toEqual([0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255]);
  });

  it('accepts a last row without its padding', () => {
    const image = decodeBmp(TWO_BY_TWO.subarray(0, TWO_BY_TWO.length - 2), LIMITS);
    expect([...image.data.subarray(0, 6)]).toEqual([0, 0, 255, 0, 255, 0]);
  });

  const rgb3x2 = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180];

  it.each([false, true])('decodes 24-bit rows with padding (top-down: %s)', (topDown) => {
    const file = encodeBmp({ width: 3, height: 2, bitsPerPixel: 24, channels: 3, pixels: rgb3x2, topDown });
    expect(readBmpHeader(file)).toMatchObject({ topDown, stride: 12 });
    expect([...decodeBmp(file, LIMITS).data]).toEqual(rgb3x2);
  });

  it('decodes 24-bit with a v4 and a v5 header', () => {
    for (const headerSize of [108, 124] as const) {
      const file = encodeBmp({ width: 3, height: 2, bitsPerPixel: 24, channels: 3, pixels: rgb3x2, headerSize });
      expect([...decodeBmp(file, LIMITS).data]).toEqual(rgb3x2);
    }
  });

  it('decodes 32-bit BI_RGB, ignoring the unused fourth byte', () => {
    const file = encodeBmp({ width: 3, height: 2, bitsPerPixel: 32, channels: 3, pixels: rgb3x2 });
    const image = decodeBmp(file, LIMITS);
    expect(image.channels).toBe(3);
    expect([...image.data]).toEqual(rgb3x2);
  });

  it('decodes 32-bit BI_BITFIELDS with alpha (v5 header) as RGBA', () => {
    const rgba = [255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 1, 9, 8, 7, 0];
    const file = encodeBmp({
      width: 2,
      height: 2,
      bitsPerPixel: 32,
      channels: 4,
      pixels: rgba,
      bitfields: true,
      headerSize: 124,
    });
    const image = decodeBmp(file, LIMITS);
    expect(image.channels).toBe(4);
    expect([...image.data]).toEqual(rgba);
  });

  it('decodes 32-bit BI_BITFIELDS after a 40-byte header (three masks, no alpha)', () => {
    const file = encodeBmp({ width: 3, height: 2, bitsPerPixel: 32, channels: 3, pixels: rgb3x2, bitfields: true });
    expect([...decodeBmp(file, LIMITS).data]).toEqual(rgb3x2);
  });

  it('treats an alpha mask whose every alpha byte is 0 as opaque RGB', () => {
    const rgba = [1, 2, 3, 0, 4, 5, 6, 0];
    const file = encodeBmp({
      width: 2,
      height: 1,
      bitsPerPixel: 32,
      channels: 4,
      pixels: rgba,
      bitfields: true,
      headerSize: 108,
    });
    const image = decodeBmp(file, LIMITS);
    expect(image.channels).toBe(3);
    expect([...image.data]).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('decodes 16-bit 5-5-5 (BI_RGB) and 5-6-5 (BI_BITFIELDS), scaling fields to 0–255', () => {
    const pixels = [255, 128, 8, 0, 0, 0];
    const x555 = decodeBmp(encodeBmp({ width: 2, height: 1, bitsPerPixel: 16, channels: 3, pixels }), LIMITS);
    // 5-bit fields: 31 → 255, 16 → round(16·255/31) = 132, 1 → 8.
    expect([...x555.data]).toEqual([255, 132, 8, 0, 0, 0]);
    const x565 = decodeBmp(
      encodeBmp({ width: 2, height: 1, bitsPerPixel: 16, channels: 3, pixels, bitfields: true }),
      LIMITS,
    );
    // Green has 6 bits: 32 → round(32·255/63) = 130.
    expect([...x565.data]).toEqual([255, 130, 8, 0, 0, 0]);
  });

  it('decodes 8-bit with a grey palette to one channel', () => {
    const grey: Rgb[] = Array.from({ length: 256 }, (_, i) => [i, i, i]);
    const indices = Array.from({ length: 5 * 3 }, (_, i) => (i * 37) % 256);
    const image = decodeBmp(encodeBmp({ width: 5, height: 3, bitsPerPixel: 8, palette: grey, indices }), LIMITS);
    expect(image.channels).toBe(1);
    expect([...image.data]).toEqual(indices);
  });

  it('decodes 8-bit with a colour palette to RGB; indices past a short palette are black', () => {
    const palette: Rgb[] = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [10, 20, 30],
    ];
    const indices = [0, 1, 2, 3, 7, 0];
    const file = encodeBmp({ width: 3, height: 2, bitsPerPixel: 8, palette, indices, colorsUsed: 4 });
    const image = decodeBmp(file, LIMITS);
    expect(image.channels).toBe(3);
    expect([...image.data]).toEqual([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 0, 0, 0, 255, 0, 0]);
  });

  it('decodes 4-bit palettised across byte boundaries', () => {
    const palette: Rgb[] = Array.from({ length: 16 }, (_, i) => [i * 16, 255 - i * 16, i]);
    const indices = Array.from({ length: 5 * 2 }, (_, i) => (i * 3) % 16);
    const image = decodeBmp(encodeBmp({ width: 5, height: 2, bitsPerPixel: 4, palette, indices }), LIMITS);
    expect([...image.data]).toEqual(indices.flatMap((i) => [...palette[i]!]));
  });

  it('decodes 1-bit bottom-up and top-down', () => {
    const palette: Rgb[] = [
      [0, 0, 0],
      [255, 255, 255],
    ];
    const indices = Array.from({ length: 10 * 3 }, (_, i) => (i % 3 === 0 ? 1 : 0));
    for (const topDown of [false, true]) {
      const image = decodeBmp(encodeBmp({ width: 10, height: 3, bitsPerPixel: 1, palette, indices, topDown }), LIMITS);
      expect(image.channels).toBe(1);
      expect([...image.data]).toEqual(indices.map((i) => i * 255));
    }
  });

  it('decodes OS/2 core headers (3-byte palette entries)', () => {
    const palette: Rgb[] = Array.from({ length: 256 }, (_, i) => [i, 0, 255 - i]);
    const indices = [0, 100, 200, 255];
    const image = decodeBmp(
      encodeBmp({ width: 2, height: 2, bitsPerPixel: 8, palette, indices, headerSize: 12 }),
      LIMITS,
    );
    expect([...image.data]).toEqual([0, 0, 255, 100, 0, 155, 200, 0, 55, 255, 0, 0]);
  });
});

describe('decodeBmp on bad input', () => {
  const valid = encodeBmp({ width: 3, height: 2, bitsPerPixel: 24, channels: 3, pixels: new Array(18).fill(7) });

  function patched(edit: (file: Buffer) => void): Buffer {
    const file = Buffer.from(valid);
    edit(file);
    return file;
  }

  it('reports truncated pixel data as INVALID_IMAGE', () => {
    const error = errorOf(() => decodeBmp(valid.subarray(0, valid.length - 8), LIMITS));
    expect(error.code).toBe(ErrorCode.InvalidImage);
    expect(error.message).toMatch(/pixel data is truncated \(needs 21 bytes, has 16\)/);
    expect(error.details).toMatchObject({ truncated: true });
  });

  it('reports a file that ends inside its header as INVALID_IMAGE', () => {
    expect(codeOf(() => decodeBmp(valid.subarray(0, 30), LIMITS))).toBe(ErrorCode.InvalidImage);
    expect(codeOf(() => decodeBmp(valid.subarray(0, 12), LIMITS))).toBe(ErrorCode.InvalidImage);
  });

  it('rejects huge declared dimensions as IMAGE_TOO_LARGE before allocating', () => {
    const bomb = patched((file) => {
      file.writeInt32LE(60_000, 18);
      file.writeInt32LE(60_000, 22);
    });
    const alloc = jest.spyOn(Buffer, 'alloc');
    try {
      const error = errorOf(() => decodeBmp(bomb, LIMITS));
      expect(error.code).toBe(ErrorCode.ImageTooLarge);
      expect(error.details).toMatchObject({ width: 60_000, height: 60_000, reason: 'pixels' });
      expect(alloc).not.toHaveBeenCalled();
    } finally {
      alloc.mockRestore();
    }
  });

  it('rejects dimensions within the limit but without the data before allocating', () => {
    const hollow = patched((file) => {
      file.writeInt32LE(10_000, 18);
      file.writeInt32LE(-10_000, 22);
    });
    const alloc = jest.spyOn(Buffer, 'alloc');
    try {
      expect(codeOf(() => decodeBmp(hollow, LIMITS))).toBe(ErrorCode.InvalidImage);
      expect(alloc).not.toHaveBeenCalled();
    } finally {
      alloc.mockRestore();
    }
  });

  it.each<[string, (file: Buffer) => void, string, RegExp]>([
    ['an unknown header size', (f) => f.writeUInt32LE(20, 14), ErrorCode.InvalidImage, /unknown bitmap header size 20/],
    ['zero width', (f) => f.writeInt32LE(0, 18), ErrorCode.InvalidImage, /width 0/],
    ['negative width', (f) => f.writeInt32LE(-3, 18), ErrorCode.InvalidImage, /width -3/],
    ['zero height', (f) => f.writeInt32LE(0, 22), ErrorCode.InvalidImage, /height 0/],
    ['2 bits per pixel', (f) => f.writeUInt16LE(2, 28), ErrorCode.UnsupportedMediaType, /2 bits per pixel/],
    ['RLE8 compression', (f) => f.writeUInt32LE(1, 30), ErrorCode.UnsupportedMediaType, /RLE8/],
    ['embedded PNG', (f) => f.writeUInt32LE(5, 30), ErrorCode.UnsupportedMediaType, /embedded PNG/],
    [
      'bit fields on 24-bit',
      (f) => f.writeUInt32LE(3, 30),
      ErrorCode.InvalidImage,
      /bit-field compression needs 16 or 32/,
    ],
    [
      'a pixel offset inside the headers',
      (f) => f.writeUInt32LE(20, 10),
      ErrorCode.InvalidImage,
      /points into the headers/,
    ],
    [
      'a pixel offset past the end',
      (f) => f.writeUInt32LE(10_000, 10),
      ErrorCode.InvalidImage,
      /ends before the pixel data/,
    ],
  ])('rejects %s', (_name, edit, code, message) => {
    const error = errorOf(() => decodeBmp(patched(edit), LIMITS));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('rejects a non-contiguous colour mask', () => {
    const file = encodeBmp({
      width: 2,
      height: 1,
      bitsPerPixel: 32,
      channels: 3,
      pixels: [1, 2, 3, 4, 5, 6],
      bitfields: true,
    });
    file.writeUInt32LE(0x00ff00ff, 54);
    expect(errorOf(() => decodeBmp(file, LIMITS)).message).toMatch(/red bit mask 0xff00ff is not contiguous/);
  });

  it('rejects a palettised file without its colour table', () => {
    const file = encodeBmp({ width: 2, height: 1, bitsPerPixel: 8, palette: [[0, 0, 0]], indices: [0, 0] });
    file.writeUInt32LE(54, 10);
    expect(errorOf(() => decodeBmp(file, LIMITS)).message).toMatch(/colour table is missing/);
  });

  it('never throws anything but a VigilError on corrupted headers', () => {
    const palette: Rgb[] = Array.from({ length: 16 }, (_, i) => [i, i, 255 - i]);
    const sources = [
      valid,
      encodeBmp({ width: 7, height: 5, bitsPerPixel: 4, palette, indices: new Array(35).fill(3) }),
      encodeBmp({
        width: 4,
        height: 3,
        bitsPerPixel: 32,
        channels: 4,
        pixels: new Array(48).fill(9),
        bitfields: true,
        headerSize: 124,
      }),
      encodeBmp({ width: 4, height: 3, bitsPerPixel: 16, channels: 3, pixels: new Array(36).fill(9), bitfields: true }),
    ];
    const random = seededRandom(42);
    for (let trial = 0; trial < 3000; trial++) {
      const file = Buffer.from(sources[trial % sources.length]!);
      const edits = 1 + Math.floor(random() * 4);
      for (let e = 0; e < edits; e++)
        file[Math.floor(random() * Math.min(file.length, 140))] = Math.floor(random() * 256);
      const cut = random() < 0.3 ? file.subarray(0, Math.floor(random() * file.length)) : file;
      try {
        const image = decodeBmp(cut, { maxPixels: 1_000_000 });
        expect(image.data.length).toBe(image.width * image.height * image.channels);
      } catch (error) {
        expect(error).toBeInstanceOf(VigilError);
      }
    }
  });
});
