import sharp from 'sharp';
import { errors } from '@vigil/contracts';
import type { ImageFormat } from './formats';
import type { ImageLimits } from './limits';
import { openImage, runDecoder, type BitDepth } from './source';

export type Channels = 1 | 2 | 3 | 4;

/** Interleaved pixels, top row first, EXIF orientation applied. */
export interface DecodedImage {
  /**
   * One byte per sample at 8 bits; at 16 bits two bytes per sample in the platform's byte order
   * (use `samples16` for a Uint16Array).
   */
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. */
  readonly channels: Channels;
  readonly bitDepth: BitDepth;
}

export interface DecodeOptions {
  readonly limits?: Partial<ImageLimits>;
  /** 'source' (default): grey stays one channel, colour is RGB; 'rgb': grey is replicated; 'grey': luminance. */
  readonly colour?: 'source' | 'rgb' | 'grey';
  /** 'source' (default) keeps 16-bit samples; 8 converts them to round(v / 257). */
  readonly bitDepth?: 'source' | 8;
  /** Drops an alpha channel without compositing it. */
  readonly removeAlpha?: boolean;
}

export interface DecodedWithFormat extends DecodedImage {
  readonly format: ImageFormat;
}

/** Decodes any supported image to raw pixels; the same validation and limits as `probeImage` apply. */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): Promise<DecodedWithFormat> {
  const image = await openImage(bytes, options.limits);
  const { info } = image;
  const colour = options.colour ?? 'source';
  const outGrey = colour === 'grey' || (colour === 'source' && info.isGreyscale);
  const out16 = info.bitDepth === 16 && options.bitDepth !== 8;
  const keepAlpha = info.hasAlpha && options.removeAlpha !== true;
  // 16-bit sources are decoded at 16 bits and narrowed here, so 8-bit output is exactly round(v / 257)
  // (libvips rounds v / 256). sharp also drops alpha when writing 8-bit 'b-w', so 8-bit grey + alpha
  // takes the same 16-bit path.
  const wide = info.bitDepth === 16 || (outGrey && keepAlpha);
  const space = outGrey ? (wide ? 'grey16' : 'b-w') : out16 ? 'rgb16' : 'srgb';

  let pipeline = image.pipeline();
  if (info.hasAlpha && !keepAlpha) pipeline = pipeline.removeAlpha();
  const { data, info: out } = await runDecoder(info.format, () =>
    pipeline
      .toColourspace(space)
      .raw({ depth: wide ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true }),
  );

  const expectedChannels = (outGrey ? 1 : 3) + (keepAlpha ? 1 : 0);
  if (out.channels !== expectedChannels)
    throw errors.internal(`decoder returned ${out.channels} channels where ${expectedChannels} were expected`);
  return {
    format: info.format,
    data: wide && !out16 ? sixteenToEight(data) : data,
    width: out.width,
    height: out.height,
    channels: out.channels as Channels,
    bitDepth: out16 ? 16 : 8,
  };
}

/** The samples of a 16-bit decoded image as numbers; copies only when the buffer is not 2-byte aligned. */
export function samples16(image: Pick<DecodedImage, 'data' | 'bitDepth'>): Uint16Array {
  if (image.bitDepth !== 16) throw errors.badInput('samples16 needs a 16-bit image');
  const { data } = image;
  if (data.byteOffset % 2 === 0) return new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
  return new Uint16Array(Uint8Array.from(data).buffer);
}

function sixteenToEight(data: Buffer): Buffer {
  const wide = samples16({ data, bitDepth: 16 });
  const out = Buffer.allocUnsafe(wide.length);
  for (let i = 0; i < wide.length; i++) out[i] = Math.round(wide[i]! / 257);
  return out;
}

export interface ToPngOptions {
  readonly limits?: Partial<ImageLimits>;
  /** 8 (default) for thumbnails and masks; 'source' keeps 16-bit samples. */
  readonly bitDepth?: 'source' | 8;
}

/** A normalised PNG of any supported input: oriented, metadata stripped, grey kept grey, alpha kept. */
export async function toPng(bytes: Uint8Array, options: ToPngOptions = {}): Promise<Buffer> {
  const decoded = await decodeImage(bytes, { limits: options.limits, bitDepth: options.bitDepth ?? 8 });
  return encodePng(decoded);
}

/** Encodes raw pixels (as `decodeImage` returns them) as PNG; used for masks and thumbnails. */
export async function encodePng(image: DecodedImage): Promise<Buffer> {
  const { width, height, channels, bitDepth } = image;
  const expected = width * height * channels * (bitDepth / 8);
  if (image.data.length !== expected)
    throw errors.badInput(
      `raw image data is ${image.data.length} bytes; ${width}×${height}×${channels} needs ${expected}`,
    );
  const grey = channels <= 2;
  const input = bitDepth === 16 ? samples16(image) : image.data;
  const space = grey ? (bitDepth === 16 ? 'grey16' : 'b-w') : bitDepth === 16 ? 'rgb16' : 'srgb';
  return sharp(input, { raw: { width, height, channels } }).toColourspace(space).png().toBuffer();
}
