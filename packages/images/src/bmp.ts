import { ErrorCode, VigilError, errors } from '@vigil/contracts';
import { assertPixelLimit, type ImageLimits } from './limits';

/**
 * A small, bounds-checked BMP decoder. sharp (libvips) reads no BMP, and the npm BMP decoders are
 * unmaintained and trust the header (they allocate width × height × 4 before checking the file holds that
 * much data). Every offset here is checked against the buffer before it is read, and the pixel limit and
 * the pixel-data length are checked before the output is allocated.
 *
 * Supported: BITMAPCOREHEADER (OS/2 1.x), BITMAPINFOHEADER and its v2–v5 extensions, OS/2 2.x headers
 * without compression; 1/4/8-bit palettised, 16-bit (5-5-5 or bit fields), 24-bit, 32-bit (BI_RGB,
 * BI_BITFIELDS, BI_ALPHABITFIELDS); bottom-up and top-down rows. Not supported (typed
 * UNSUPPORTED_MEDIA_TYPE): RLE4/RLE8, embedded JPEG/PNG, CMYK, other bit depths.
 */

export type BmpChannels = 1 | 3 | 4;

export interface BmpHeader {
  readonly width: number;
  readonly height: number;
  readonly topDown: boolean;
  readonly bitsPerPixel: 1 | 4 | 8 | 16 | 24 | 32;
  readonly pixelOffset: number;
  /** Bytes per stored row, including the padding to a multiple of 4. */
  readonly stride: number;
  /** RGB triplets, always 2^bitsPerPixel entries (missing entries are black) so no index reads past it. */
  readonly palette: Uint8Array | null;
  readonly paletteIsGrey: boolean;
  /** Channel masks for 16- and 32-bit images; null for 24-bit and for 32-bit BI_RGB (B, G, R, unused). */
  readonly masks: BmpMasks | null;
}

export interface BmpMasks {
  readonly red: number;
  readonly green: number;
  readonly blue: number;
  readonly alpha: number;
}

export interface DecodedBmp {
  /** Interleaved 8-bit samples, rows top to bottom: grey, RGB or RGBA. */
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: BmpChannels;
  readonly bitsPerPixel: number;
}

const FILE_HEADER_SIZE = 14;
const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_JPEG = 4;
const BI_PNG = 5;
const BI_ALPHABITFIELDS = 6;
const SUPPORTED_DEPTHS = new Set([1, 4, 8, 16, 24, 32]);
/** BITMAPCOREHEADER, OS/2 2.x short and long, BITMAPINFOHEADER, v2, v3, v4, v5. */
export const BMP_HEADER_SIZES: ReadonlySet<number> = new Set([12, 16, 40, 52, 56, 64, 108, 124]);
const DEFAULT_16BIT_MASKS: BmpMasks = { red: 0x7c00, green: 0x03e0, blue: 0x001f, alpha: 0 };

function invalid(message: string, details: Record<string, unknown> = {}): VigilError {
  return errors.invalidImage(`invalid BMP: ${message}`, { format: 'bmp', ...details });
}

function unsupported(message: string, details: Record<string, unknown> = {}): VigilError {
  return new VigilError(ErrorCode.UnsupportedMediaType, `unsupported BMP variant: ${message}`, {
    format: 'bmp',
    ...details,
  });
}

/** A DataView with reads that fail as INVALID_IMAGE instead of RangeError. */
class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get length(): number {
    return this.bytes.length;
  }
  private need(offset: number, size: number, what: string): void {
    if (offset < 0 || offset + size > this.bytes.length)
      throw invalid(`file ends before the ${what} (needs ${offset + size} bytes, has ${this.bytes.length})`, {
        truncated: true,
      });
  }
  u16(offset: number, what: string): number {
    this.need(offset, 2, what);
    return this.view.getUint16(offset, true);
  }
  u32(offset: number, what: string): number {
    this.need(offset, 4, what);
    return this.view.getUint32(offset, true);
  }
  i32(offset: number, what: string): number {
    this.need(offset, 4, what);
    return this.view.getInt32(offset, true);
  }
}

function describeCompression(compression: number): string {
  switch (compression) {
    case BI_RLE8:
      return 'RLE8 compression';
    case BI_RLE4:
      return 'RLE4 compression';
    case BI_JPEG:
      return 'embedded JPEG';
    case BI_PNG:
      return 'embedded PNG';
    default:
      return compression >= 11 && compression <= 13 ? 'CMYK' : `compression type ${compression}`;
  }
}

function maskShift(mask: number): { shift: number; bits: number } {
  if (mask === 0) return { shift: 0, bits: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (shift + bits < 32 && ((mask >>> (shift + bits)) & 1) === 1) bits++;
  return { shift, bits };
}

function assertMask(mask: number, name: string): void {
  const { shift, bits } = maskShift(mask);
  // A mask must be one contiguous run of bits, otherwise its value cannot be scaled to 8 bits.
  const contiguous = bits === 0 || (mask >>> shift) + 1 === 2 ** bits;
  if (!contiguous) throw invalid(`the ${name} bit mask 0x${mask.toString(16)} is not contiguous`);
}

/** Parses and validates everything before the pixel data; reads nothing past the buffer. */
export function readBmpHeader(bytes: Uint8Array): BmpHeader {
  const r = new Reader(bytes);
  if (r.length < 2 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) throw invalid("missing the 'BM' signature");
  const pixelOffset = r.u32(10, 'file header');
  const dibSize = r.u32(14, 'bitmap header');

  let width: number;
  let rawHeight: number;
  let bitsPerPixel: number;
  let compression = BI_RGB;
  let colorsUsed = 0;
  let paletteEntrySize = 4;
  if (dibSize === 12) {
    width = r.u16(18, 'bitmap header');
    rawHeight = r.u16(20, 'bitmap header');
    bitsPerPixel = r.u16(24, 'bitmap header');
    paletteEntrySize = 3;
  } else if (BMP_HEADER_SIZES.has(dibSize)) {
    width = r.i32(18, 'bitmap header');
    rawHeight = r.i32(22, 'bitmap header');
    bitsPerPixel = r.u16(28, 'bitmap header');
    if (dibSize >= 20) compression = r.u32(30, 'bitmap header');
    if (dibSize >= 36) colorsUsed = r.u32(46, 'bitmap header');
    r.u32(FILE_HEADER_SIZE + dibSize - 4, 'bitmap header');
    // OS/2 2.x (64-byte header) numbers its compressions differently: 3 is Huffman there, not bit fields.
    if (dibSize === 64 && compression !== BI_RGB) throw unsupported(`OS/2 compression type ${compression}`);
  } else {
    throw invalid(`unknown bitmap header size ${dibSize}`);
  }

  if (width <= 0) throw invalid(`width ${width} is not positive`);
  if (rawHeight === 0 || rawHeight === -2147483648) throw invalid(`height ${rawHeight} is not valid`);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  if (!SUPPORTED_DEPTHS.has(bitsPerPixel))
    throw unsupported(`${bitsPerPixel} bits per pixel (supported: 1, 4, 8, 16, 24, 32)`, { bitsPerPixel });
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS)
    throw unsupported(describeCompression(compression), { compression });

  let headersEnd = FILE_HEADER_SIZE + dibSize;
  let masks: BmpMasks | null = null;
  if (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) {
    if (bitsPerPixel !== 16 && bitsPerPixel !== 32)
      throw invalid(`bit-field compression needs 16 or 32 bits per pixel, not ${bitsPerPixel}`);
    const masksOffset = FILE_HEADER_SIZE + 40;
    // Masks sit inside v2+ headers; after a plain 40-byte header they follow it.
    const hasAlphaMask = dibSize >= 56 || compression === BI_ALPHABITFIELDS;
    masks = {
      red: r.u32(masksOffset, 'colour masks'),
      green: r.u32(masksOffset + 4, 'colour masks'),
      blue: r.u32(masksOffset + 8, 'colour masks'),
      alpha: hasAlphaMask ? r.u32(masksOffset + 12, 'colour masks') : 0,
    };
    if (dibSize === 40) headersEnd += hasAlphaMask ? 16 : 12;
    if (masks.red === 0 || masks.green === 0 || masks.blue === 0) throw invalid('a colour bit mask is zero');
    if (bitsPerPixel === 16 && (masks.red | masks.green | masks.blue | masks.alpha) > 0xffff)
      throw invalid('a colour bit mask does not fit 16 bits');
    assertMask(masks.red, 'red');
    assertMask(masks.green, 'green');
    assertMask(masks.blue, 'blue');
    assertMask(masks.alpha, 'alpha');
  } else if (bitsPerPixel === 16) {
    masks = DEFAULT_16BIT_MASKS;
  }

  let palette: Uint8Array | null = null;
  let paletteIsGrey = false;
  if (bitsPerPixel <= 8) {
    const maxEntries = 2 ** bitsPerPixel;
    // Writers sometimes overstate the count; clamping keeps every index inside the table.
    const declared = colorsUsed === 0 ? maxEntries : Math.min(colorsUsed, maxEntries);
    const available = Math.floor(Math.max(0, Math.min(r.length, pixelOffset) - headersEnd) / paletteEntrySize);
    const entries = Math.min(declared, available);
    if (entries === 0) throw invalid('the colour table is missing');
    palette = new Uint8Array(maxEntries * 3);
    paletteIsGrey = true;
    for (let i = 0; i < entries; i++) {
      const at = headersEnd + i * paletteEntrySize;
      const blue = bytes[at]!;
      const green = bytes[at + 1]!;
      const red = bytes[at + 2]!;
      palette[i * 3] = red;
      palette[i * 3 + 1] = green;
      palette[i * 3 + 2] = blue;
      if (red !== green || green !== blue) paletteIsGrey = false;
    }
    headersEnd += entries * paletteEntrySize;
  }

  if (pixelOffset < headersEnd) throw invalid(`pixel data offset ${pixelOffset} points into the headers`);
  if (pixelOffset >= r.length) throw invalid('file ends before the pixel data', { truncated: true });

  const stride = Math.floor((bitsPerPixel * width + 31) / 32) * 4;
  return {
    width,
    height,
    topDown,
    bitsPerPixel: bitsPerPixel as BmpHeader['bitsPerPixel'],
    pixelOffset,
    stride,
    palette,
    paletteIsGrey,
    masks,
  };
}

/** The bytes the pixel rows need; the last row's padding may be missing, as several writers omit it. */
function requiredPixelBytes(header: BmpHeader): number {
  return header.stride * (header.height - 1) + Math.ceil((header.width * header.bitsPerPixel) / 8);
}

function outputChannels(header: BmpHeader): BmpChannels {
  if (header.palette) return header.paletteIsGrey ? 1 : 3;
  return header.masks && header.masks.alpha !== 0 ? 4 : 3;
}

/** Decodes a BMP to interleaved 8-bit pixels, top row first. */
export function decodeBmp(bytes: Uint8Array, limits: Pick<ImageLimits, 'maxPixels'>): DecodedBmp {
  const header = readBmpHeader(bytes);
  const { width, height } = header;
  assertPixelLimit(width, height, limits);
  const needed = requiredPixelBytes(header);
  const available = bytes.length - header.pixelOffset;
  if (needed > available)
    throw invalid(`pixel data is truncated (needs ${needed} bytes, has ${available})`, {
      truncated: true,
      needed,
      available,
    });

  const channels = outputChannels(header);
  const out = Buffer.alloc(width * height * channels);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let y = 0; y < height; y++) {
    const storedRow = header.topDown ? y : height - 1 - y;
    const src = header.pixelOffset + storedRow * header.stride;
    const dst = y * width * channels;
    decodeRow(header, bytes, view, src, out, dst, channels);
  }

  if (channels === 4 && alphaIsUnused(out))
    return { ...dropAlpha(out, width, height), bitsPerPixel: header.bitsPerPixel };
  return { data: out, width, height, channels, bitsPerPixel: header.bitsPerPixel };
}

function decodeRow(
  header: BmpHeader,
  bytes: Uint8Array,
  view: DataView,
  src: number,
  out: Buffer,
  dst: number,
  channels: BmpChannels,
): void {
  const { width, bitsPerPixel, palette, masks } = header;
  if (palette) {
    const indexAt = (x: number): number => {
      if (bitsPerPixel === 8) return bytes[src + x]!;
      if (bitsPerPixel === 4) return (bytes[src + (x >> 1)]! >> ((x & 1) === 0 ? 4 : 0)) & 0x0f;
      return (bytes[src + (x >> 3)]! >> (7 - (x & 7))) & 1;
    };
    for (let x = 0; x < width; x++) {
      const p = indexAt(x) * 3;
      if (channels === 1) {
        out[dst + x] = palette[p]!;
      } else {
        const o = dst + x * 3;
        out[o] = palette[p]!;
        out[o + 1] = palette[p + 1]!;
        out[o + 2] = palette[p + 2]!;
      }
    }
    return;
  }
  if (bitsPerPixel === 24 || (bitsPerPixel === 32 && !masks)) {
    const step = bitsPerPixel / 8;
    for (let x = 0; x < width; x++) {
      const s = src + x * step;
      const o = dst + x * 3;
      out[o] = bytes[s + 2]!;
      out[o + 1] = bytes[s + 1]!;
      out[o + 2] = bytes[s]!;
    }
    return;
  }
  const m = masks ?? DEFAULT_16BIT_MASKS;
  const red = scaler(m.red);
  const green = scaler(m.green);
  const blue = scaler(m.blue);
  const alpha = scaler(m.alpha);
  for (let x = 0; x < width; x++) {
    const value = bitsPerPixel === 16 ? view.getUint16(src + x * 2, true) : view.getUint32(src + x * 4, true);
    const o = dst + x * channels;
    out[o] = red(value);
    out[o + 1] = green(value);
    out[o + 2] = blue(value);
    if (channels === 4) out[o + 3] = alpha(value);
  }
}

/** Maps the masked field to 0–255, so 5-bit 31 and 10-bit 1023 both become 255. */
function scaler(mask: number): (value: number) => number {
  const { shift, bits } = maskShift(mask);
  if (bits === 0) return () => 255;
  const max = 2 ** bits - 1;
  if (bits === 8) return (value) => ((value & mask) >>> shift) & 0xff;
  return (value) => Math.round((((value & mask) >>> shift) * 255) / max);
}

/** Many writers declare an alpha mask but leave every alpha byte 0; that image is opaque, not invisible. */
function alphaIsUnused(rgba: Buffer): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 0) return false;
  return true;
}

function dropAlpha(rgba: Buffer, width: number, height: number): Omit<DecodedBmp, 'bitsPerPixel'> {
  const rgb = Buffer.alloc(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i]!;
    rgb[j + 1] = rgba[i + 1]!;
    rgb[j + 2] = rgba[i + 2]!;
  }
  return { data: rgb, width, height, channels: 3 };
}
