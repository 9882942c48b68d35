import sharp from 'sharp';
import { ErrorCode, VigilError, errors, isVigilError } from '@vigil/contracts';
import { decodeBmp } from './bmp';
import { requireSupportedFormat, type ImageFormat } from './formats';
import { readHeaderDimensions } from './header';
import { assertByteLimit, assertPixelLimit, resolveLimits, type ImageLimits } from './limits';

export type BitDepth = 8 | 16;

/** What the header and decoder metadata say about an image, before any conversion. */
export interface SourceInfo {
  readonly format: ImageFormat;
  readonly byteSize: number;
  /** As stored, before EXIF orientation. */
  readonly width: number;
  readonly height: number;
  /** EXIF/TIFF orientation, 1 (upright) to 8. */
  readonly orientation: number;
  readonly orientedWidth: number;
  readonly orientedHeight: number;
  readonly bitDepth: BitDepth;
  readonly isGreyscale: boolean;
  readonly hasAlpha: boolean;
}

/**
 * A validated-so-far image: format sniffed, byte and pixel limits checked from the header, decoder
 * metadata read. `pipeline()` starts an EXIF-oriented sharp pipeline on it, whatever the format.
 */
export interface OpenedImage {
  readonly info: SourceInfo;
  pipeline(): sharp.Sharp;
  /** Decodes every pixel once, so truncated or corrupt data fails here (INVALID_IMAGE). */
  validate(): Promise<void>;
}

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

const FORMAT_NAMES: Readonly<Record<ImageFormat, string>> = { jpeg: 'JPEG', png: 'PNG', tiff: 'TIFF', bmp: 'BMP' };

/** libvips messages name the problem well; keep their first line, without the loader's prefix. */
function cleanDecoderMessage(message: string): string {
  const first = message.split('\n').find((line) => line.trim() !== '') ?? message;
  return first.replace(/^\s*(Vips\w*|vips\w*|TIFFReadDirectory|tiff2vips):\s*/u, '').trim();
}

/** sharp/libvips errors become typed errors; anything already typed passes through. */
export function mapDecoderError(error: unknown, format: ImageFormat): VigilError {
  if (isVigilError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/exceeds pixel limit/i.test(message))
    return new VigilError(ErrorCode.ImageTooLarge, 'image exceeds the pixel limit', { reason: 'pixels', format });
  const problem = /unsupported image format/i.test(message)
    ? 'the decoder could not read its structure (truncated or corrupt directory/header)'
    : cleanDecoderMessage(message);
  return errors.invalidImage(`${FORMAT_NAMES[format]} image could not be decoded: ${problem}`, { format, problem });
}

/** Runs decoder work, turning its failures into typed errors. */
export async function runDecoder<T>(format: ImageFormat, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw mapDecoderError(error, format);
  }
}

function orientedSize(width: number, height: number, orientation: number): { width: number; height: number } {
  // Orientations 5–8 transpose the image.
  return orientation >= 5 && orientation <= 8 ? { width: height, height: width } : { width, height };
}

export async function openImage(bytes: Uint8Array, partialLimits?: Partial<ImageLimits>): Promise<OpenedImage> {
  const limits = resolveLimits(partialLimits);
  const buffer = asBuffer(bytes);
  assertByteLimit(buffer.length, limits);
  const format = requireSupportedFormat(buffer);
  const declared = readHeaderDimensions(buffer, format);
  assertPixelLimit(declared.width, declared.height, limits);
  return format === 'bmp' ? openBmp(buffer, limits) : openWithSharp(buffer, format, limits);
}

function openBmp(buffer: Buffer, limits: ImageLimits): OpenedImage {
  const decoded = decodeBmp(buffer, limits);
  const info: SourceInfo = {
    format: 'bmp',
    byteSize: buffer.length,
    width: decoded.width,
    height: decoded.height,
    orientation: 1,
    orientedWidth: decoded.width,
    orientedHeight: decoded.height,
    bitDepth: 8,
    isGreyscale: decoded.channels === 1,
    hasAlpha: decoded.channels === 4,
  };
  return {
    info,
    // Raw pixels go through sharp too, so every later step is the same for every format.
    pipeline: () =>
      sharp(decoded.data, {
        raw: { width: decoded.width, height: decoded.height, channels: decoded.channels },
        limitInputPixels: limits.maxPixels,
      }),
    validate: async () => undefined,
  };
}

const GREY_SPACES = new Set(['b-w', 'grey16']);

async function openWithSharp(buffer: Buffer, format: ImageFormat, limits: ImageLimits): Promise<OpenedImage> {
  const options: sharp.SharpOptions = {
    failOn: limits.failOn,
    limitInputPixels: limits.maxPixels,
    autoOrient: true,
  };
  const metadata = await runDecoder(format, () => sharp(buffer, { ...options, autoOrient: false }).metadata());
  if (metadata.format !== format)
    throw errors.invalidImage(
      `${FORMAT_NAMES[format]} image could not be decoded: the decoder read it as ${String(metadata.format)}`,
      { format },
    );
  assertPixelLimit(metadata.width, metadata.height, limits);
  const bitDepth = bitDepthOf(metadata.depth, format);
  const orientation =
    metadata.orientation && metadata.orientation >= 1 && metadata.orientation <= 8 ? metadata.orientation : 1;
  const oriented = orientedSize(metadata.width, metadata.height, orientation);
  const info: SourceInfo = {
    format,
    byteSize: buffer.length,
    width: metadata.width,
    height: metadata.height,
    orientation,
    orientedWidth: oriented.width,
    orientedHeight: oriented.height,
    bitDepth,
    isGreyscale: GREY_SPACES.has(metadata.space),
    hasAlpha: metadata.hasAlpha,
  };
  return {
    info,
    pipeline: () => sharp(buffer, options),
    validate: async () => {
      // stats() pulls every pixel through the decoder without materialising the whole image.
      await runDecoder(format, () => sharp(buffer, { ...options, autoOrient: false }).stats());
    },
  };
}

function bitDepthOf(depth: string, format: ImageFormat): BitDepth {
  if (depth === 'uchar') return 8;
  if (depth === 'ushort') return 16;
  throw new VigilError(
    ErrorCode.UnsupportedMediaType,
    `${FORMAT_NAMES[format]} with ${describeDepth(depth)} samples is not supported; use 8- or 16-bit unsigned integers`,
    { format, depth },
  );
}

function describeDepth(depth: string): string {
  switch (depth) {
    case 'float':
    case 'double':
      return 'floating-point';
    case 'char':
    case 'short':
    case 'int':
      return 'signed integer';
    case 'uint':
      return '32-bit integer';
    default:
      return depth;
  }
}
