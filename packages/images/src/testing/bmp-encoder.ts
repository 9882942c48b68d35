/**
 * A BMP writer for tests: every variant the decoder supports, so decoder tests can round-trip known pixels.
 * Not shipped: production code never writes BMP.
 */

export type Rgb = readonly [number, number, number];

export interface BmpEncodeOptions {
  readonly width: number;
  readonly height: number;
  /** Bottom-up (the usual layout) unless true. */
  readonly topDown?: boolean;
  /** 40 (BITMAPINFOHEADER, default), 12 (OS/2 core), 108 (v4) or 124 (v5). */
  readonly headerSize?: 12 | 40 | 108 | 124;
}

export interface PalettedBmp extends BmpEncodeOptions {
  readonly bitsPerPixel: 1 | 4 | 8;
  readonly palette: readonly Rgb[];
  /** One palette index per pixel, top row first. */
  readonly indices: ArrayLike<number>;
  /** biClrUsed; 0 (default) means 2^bitsPerPixel entries are written. */
  readonly colorsUsed?: number;
}

export interface DirectBmp extends BmpEncodeOptions {
  readonly bitsPerPixel: 16 | 24 | 32;
  /** RGB or RGBA samples (channels 3 or 4), 8 bits each, top row first. */
  readonly pixels: ArrayLike<number>;
  readonly channels: 3 | 4;
  /** For 16 and 32 bits: write BI_BITFIELDS masks (16-bit: 5-6-5, 32-bit: ARGB 8-8-8-8). */
  readonly bitfields?: boolean;
}

export type BmpSpec = PalettedBmp | DirectBmp;

function isPaletted(spec: BmpSpec): spec is PalettedBmp {
  return spec.bitsPerPixel <= 8;
}

export function encodeBmp(spec: BmpSpec): Buffer {
  const headerSize = spec.headerSize ?? 40;
  const { width, height, bitsPerPixel } = spec;
  const stride = Math.floor((bitsPerPixel * width + 31) / 32) * 4;
  const bitfields = !isPaletted(spec) && spec.bitfields === true;
  const maskBytes = bitfields && headerSize === 40 ? 12 : 0;
  const paletteEntries = isPaletted(spec) ? (spec.colorsUsed ?? 0) || 2 ** bitsPerPixel : 0;
  const entrySize = headerSize === 12 ? 3 : 4;
  const pixelOffset = 14 + headerSize + maskBytes + paletteEntries * entrySize;
  const file = Buffer.alloc(pixelOffset + stride * height);

  file.write('BM', 0, 'latin1');
  file.writeUInt32LE(file.length, 2);
  file.writeUInt32LE(pixelOffset, 10);
  file.writeUInt32LE(headerSize, 14);
  if (headerSize === 12) {
    if (spec.topDown) throw new Error('OS/2 core headers cannot be top-down');
    file.writeUInt16LE(width, 18);
    file.writeUInt16LE(height, 20);
    file.writeUInt16LE(1, 22);
    file.writeUInt16LE(bitsPerPixel, 24);
  } else {
    file.writeInt32LE(width, 18);
    file.writeInt32LE(spec.topDown ? -height : height, 22);
    file.writeUInt16LE(1, 26);
    file.writeUInt16LE(bitsPerPixel, 28);
    file.writeUInt32LE(bitfields ? 3 : 0, 30);
    file.writeUInt32LE(stride * height, 34);
    file.writeInt32LE(2835, 38);
    file.writeInt32LE(2835, 42);
    file.writeUInt32LE(isPaletted(spec) ? (spec.colorsUsed ?? 0) : 0, 46);
    if (bitfields) {
      const masks =
        bitsPerPixel === 16 ? [0xf800, 0x07e0, 0x001f, 0] : [0x00ff0000, 0x0000ff00, 0x000000ff, 0xff000000];
      const count = headerSize === 40 ? 3 : 4;
      for (let i = 0; i < count; i++) file.writeUInt32LE(masks[i]! >>> 0, 54 + i * 4);
    }
  }

  if (isPaletted(spec)) {
    const base = 14 + headerSize;
    spec.palette.slice(0, paletteEntries).forEach(([r, g, b], i) => {
      const at = base + i * entrySize;
      file[at] = b;
      file[at + 1] = g;
      file[at + 2] = r;
    });
  }

  for (let y = 0; y < height; y++) {
    const row = pixelOffset + (spec.topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) writePixel(spec, file, row, x, y * width + x);
  }
  return file;
}

function writePixel(spec: BmpSpec, file: Buffer, row: number, x: number, index: number): void {
  if (isPaletted(spec)) {
    const value = spec.indices[index]!;
    if (spec.bitsPerPixel === 8) file[row + x] = value;
    else if (spec.bitsPerPixel === 4) file[row + (x >> 1)]! |= (value & 0x0f) << ((x & 1) === 0 ? 4 : 0);
    else file[row + (x >> 3)]! |= (value & 1) << (7 - (x & 7));
    return;
  }
  const s = index * spec.channels;
  const r = spec.pixels[s]!;
  const g = spec.pixels[s + 1]!;
  const b = spec.pixels[s + 2]!;
  const a = spec.channels === 4 ? spec.pixels[s + 3]! : 255;
  if (spec.bitsPerPixel === 24) {
    file[row + x * 3] = b;
    file[row + x * 3 + 1] = g;
    file[row + x * 3 + 2] = r;
  } else if (spec.bitsPerPixel === 32) {
    file[row + x * 4] = b;
    file[row + x * 4 + 1] = g;
    file[row + x * 4 + 2] = r;
    file[row + x * 4 + 3] = spec.bitfields ? a : 0;
  } else {
    const value = spec.bitfields
      ? ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3)
      : ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);
    file.writeUInt16LE(value, row + x * 2);
  }
}
