import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { encodeBmp, type Rgb } from './bmp-encoder';

/**
 * Deterministic test images for the whole repo. The same options always give the same bytes (sharp's
 * encoders are deterministic for a given libvips build), so tests can compare digests within one run.
 */

export type SyntheticFormat = 'png' | 'jpeg' | 'tiff' | 'bmp';

export interface TextureOptions {
  readonly width?: number;
  readonly height?: number;
  /** 1 grey (default) or 3 RGB. */
  readonly channels?: 1 | 3;
  /** 8 (default) or 16; 16-bit samples span the full 0–65535 range. */
  readonly bitDepth?: 8 | 16;
  readonly seed?: number;
  /** Draw a dark scratch and a bright spot, as a defect the engine should find. */
  readonly defect?: boolean;
}

export interface RawPixels {
  /** Interleaved samples, top row first: Uint8Array at 8 bits, Uint16Array at 16. */
  readonly data: Uint8Array | Uint16Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly bitDepth: 8 | 16;
}

/** mulberry32: tiny, fast, and good enough to make noise that no two seeds share. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A woven-looking texture (two gratings plus noise), optionally with a defect, as raw pixels. */
export function texturePixels(options: TextureOptions = {}): RawPixels {
  const width = options.width ?? 64;
  const height = options.height ?? 48;
  const channels = options.channels ?? 1;
  const bitDepth = options.bitDepth ?? 8;
  const random = seededRandom(options.seed ?? 1);
  const max = bitDepth === 16 ? 65535 : 255;
  const data = bitDepth === 16 ? new Uint16Array(width * height * channels) : new Uint8Array(width * height * channels);
  const phase = random() * Math.PI * 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const base = 0.5 + 0.2 * Math.sin(x * 0.7 + phase) * Math.cos(y * 0.5 + phase);
      for (let c = 0; c < channels; c++) {
        const tint = channels === 3 ? (c - 1) * 0.05 : 0;
        const value = base + tint + (random() - 0.5) * 0.1;
        data[(y * width + x) * channels + c] = Math.round(Math.min(1, Math.max(0, value)) * max);
      }
    }
  }
  if (options.defect) drawDefect(data, width, height, channels, max);
  return { data, width, height, channels, bitDepth };
}

function drawDefect(data: Uint8Array | Uint16Array, width: number, height: number, channels: number, max: number) {
  const set = (x: number, y: number, value: number) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = value;
  };
  // A diagonal scratch across the middle third...
  for (let t = 0; t < Math.min(width, height) / 3; t++) {
    const x = Math.floor(width / 3 + t);
    const y = Math.floor(height / 3 + t * 0.6);
    set(x, y, 0);
    set(x, y + 1, 0);
  }
  // ...and a bright spot near the bottom-right.
  const cx = Math.floor(width * 0.75);
  const cy = Math.floor(height * 0.75);
  const radius = Math.max(1, Math.floor(Math.min(width, height) / 12));
  for (let dy = -radius; dy <= radius; dy++)
    for (let dx = -radius; dx <= radius; dx++) if (dx * dx + dy * dy <= radius * radius) set(cx + dx, cy + dy, max);
}

function sharpFromRaw(raw: RawPixels): sharp.Sharp {
  const space = raw.channels === 1 ? (raw.bitDepth === 16 ? 'grey16' : 'b-w') : raw.bitDepth === 16 ? 'rgb16' : 'srgb';
  return sharp(raw.data, { raw: { width: raw.width, height: raw.height, channels: raw.channels } }).toColourspace(
    space,
  );
}

export interface SyntheticImageOptions extends TextureOptions {
  readonly format: SyntheticFormat;
  /** BMP only: 24 (default) or 8 (palettised: grey ramp for grey input, 6×6×6 cube for RGB). */
  readonly bmpBits?: 8 | 24;
}

/** An encoded texture image. JPEG and BMP are 8-bit only; BMP is bottom-up. */
export async function syntheticImage(options: SyntheticImageOptions): Promise<Buffer> {
  const raw = texturePixels(options);
  switch (options.format) {
    case 'png':
      return sharpFromRaw(raw).png({ compressionLevel: 6 }).toBuffer();
    case 'tiff':
      return sharpFromRaw(raw).tiff({ compression: 'lzw' }).toBuffer();
    case 'jpeg':
      if (raw.bitDepth !== 8) throw new Error('JPEG is 8-bit only');
      return sharpFromRaw(raw).jpeg({ quality: 90 }).toBuffer();
    case 'bmp':
      if (raw.bitDepth !== 8) throw new Error('BMP is 8-bit only');
      return rawToBmp(raw as RawPixels & { data: Uint8Array }, options.bmpBits ?? 24);
  }
}

const GREY_RAMP: Rgb[] = Array.from({ length: 256 }, (_, i) => [i, i, i] as const);
/** 6×6×6 colour cube; index = 36r + 6g + b with levels 0, 51, ..., 255. */
const COLOUR_CUBE: Rgb[] = Array.from({ length: 216 }, (_, i) => [
  Math.floor(i / 36) * 51,
  (Math.floor(i / 6) % 6) * 51,
  (i % 6) * 51,
]);

function rawToBmp(raw: RawPixels & { data: Uint8Array }, bits: 8 | 24): Buffer {
  const { width, height, channels, data } = raw;
  if (bits === 24) {
    const rgb =
      channels === 3 ? data : Uint8Array.from({ length: width * height * 3 }, (_, i) => data[Math.floor(i / 3)]!);
    return encodeBmp({ width, height, bitsPerPixel: 24, channels: 3, pixels: rgb });
  }
  if (channels === 1) return encodeBmp({ width, height, bitsPerPixel: 8, palette: GREY_RAMP, indices: data });
  const indices = new Uint8Array(width * height);
  for (let i = 0; i < indices.length; i++) {
    const level = (v: number) => Math.round(v / 51);
    indices[i] = level(data[i * 3]!) * 36 + level(data[i * 3 + 1]!) * 6 + level(data[i * 3 + 2]!);
  }
  return encodeBmp({ width, height, bitsPerPixel: 8, palette: COLOUR_CUBE, indices });
}

/** A valid JPEG cut short: the header parses, the scan data ends early. */
export async function truncatedJpeg(options: TextureOptions = {}): Promise<Buffer> {
  const full = await syntheticImage({ width: 128, height: 96, channels: 3, ...options, format: 'jpeg' });
  return full.subarray(0, Math.floor(full.length * 0.6));
}

function pngChunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])) >>> 0, 0);
  return Buffer.concat([head, body, crc]);
}

/**
 * A decompression bomb: an 8-bit grey PNG whose header declares width × height (default 100 000 ×
 * 100 000, 10 gigapixels) but whose file is a few dozen bytes. Decoding it would need gigabytes.
 */
export function pixelBombPng(options: { width?: number; height?: number } = {}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(options.width ?? 100_000, 0);
  ihdr.writeUInt32BE(options.height ?? 100_000, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([
    signature,
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/**
 * A JPEG stored width × height (default 64 × 32) with an EXIF orientation tag (default 6: rotate 90° clockwise
 * to display), so displayed dimensions are height × width. The top-left stored pixel is bright red and the
 * rest dark, so tests can check where it lands.
 */
export async function exifRotatedJpeg(options: { width?: number; height?: number; orientation?: number } = {}) {
  const width = options.width ?? 64;
  const height = options.height ?? 32;
  const pixels = Buffer.alloc(width * height * 3, 20);
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 8; x++) {
      const at = (y * width + x) * 3;
      pixels[at] = 250;
      pixels[at + 1] = 0;
      pixels[at + 2] = 0;
    }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: options.orientation ?? 6 })
    .toBuffer();
}
