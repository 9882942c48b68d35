import sharp from 'sharp';
import { ErrorCode, VigilError, errors } from '@vigil/contracts';

/** A region of interest in the (EXIF-oriented) image's pixels. */
export interface Roi {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

export interface PreprocessOptions {
  /** The longer side of the network input in pixels. */
  readonly inputSize: number;
  /** Network input sides are rounded to a multiple of this (the backbone's deepest stride). */
  readonly sizeMultiple: number;
  readonly roi?: Roi;
  /** A network that requires a fixed input size: resize to exactly this (aspect not kept). */
  readonly fixedSize?: { readonly width: number; readonly height: number };
  /** Embedded ICC profile: `convert` to sRGB (sharp's default) or `ignore` (stored values, ~10 ms cheaper). */
  readonly iccProfile?: 'ignore' | 'convert';
}

export interface PreparedImage {
  /** Planar RGB [3, netH, netW], 0..1. */
  readonly tensor: Float32Array;
  readonly netW: number;
  readonly netH: number;
  /** Size of the decoded, oriented image. */
  readonly width: number;
  readonly height: number;
  /** The region that was analysed, in image pixels. */
  readonly roi: Roi;
}

export const MIN_IMAGE_SIDE = 8;
export const MAX_IMAGE_PIXELS = 12_000 * 12_000;

const sharpOptions = { failOn: 'truncated', limitInputPixels: MAX_IMAGE_PIXELS } as const;

function mapSharpError(cause: unknown): VigilError {
  const message = cause instanceof Error ? cause.message : String(cause);
  if (/unsupported image format/i.test(message)) {
    return new VigilError(ErrorCode.UnsupportedMediaType, 'unsupported image format', {}, { cause });
  }
  if (/pixel limit/i.test(message)) {
    return new VigilError(ErrorCode.ImageTooLarge, 'image exceeds the pixel limit', { maxPixels: MAX_IMAGE_PIXELS });
  }
  return new VigilError(ErrorCode.InvalidImage, 'image could not be decoded', { reason: message }, { cause });
}

/** Width and height after EXIF orientation, with size limits checked; throws typed errors. */
export async function probeImage(bytes: Uint8Array): Promise<{ width: number; height: number }> {
  return (await open(bytes)).size;
}

/** One sharp instance per image: the header is read once for the checks, then the same instance decodes. */
async function open(bytes: Uint8Array): Promise<{ img: sharp.Sharp; size: { width: number; height: number } }> {
  if (!bytes || bytes.length === 0) throw errors.invalidImage('image is empty');
  let meta: sharp.Metadata;
  const img = sharp(bytes, sharpOptions);
  try {
    meta = await img.metadata();
  } catch (cause) {
    throw mapSharpError(cause);
  }
  return { img, size: checkSize(meta) };
}

function checkSize(meta: sharp.Metadata): { width: number; height: number } {
  const rawW = meta.width ?? 0;
  const rawH = meta.height ?? 0;
  const swap = (meta.orientation ?? 1) >= 5;
  const width = swap ? rawH : rawW;
  const height = swap ? rawW : rawH;
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new VigilError(ErrorCode.ImageTooLarge, `image of ${width}x${height} pixels is too large`, {
      width,
      height,
      maxPixels: MAX_IMAGE_PIXELS,
    });
  }
  if (width < MIN_IMAGE_SIDE || height < MIN_IMAGE_SIDE) {
    throw errors.invalidImage(`image of ${width}x${height} pixels is too small`, { width, height });
  }
  return { width, height };
}

export function networkSize(w: number, h: number, inputSize: number, multiple: number): { netW: number; netH: number } {
  const scale = inputSize / Math.max(w, h);
  const round = (v: number): number => Math.max(multiple, Math.round((v * scale) / multiple) * multiple);
  return { netW: round(w), netH: round(h) };
}

function clampRoi(roi: Roi | undefined, width: number, height: number): Roi {
  if (!roi) return { left: 0, top: 0, width, height };
  const left = Math.max(0, Math.min(width - 1, Math.round(roi.left)));
  const top = Math.max(0, Math.min(height - 1, Math.round(roi.top)));
  const w = Math.max(1, Math.min(width - left, Math.round(roi.width)));
  const h = Math.max(1, Math.min(height - top, Math.round(roi.height)));
  if (w < MIN_IMAGE_SIDE || h < MIN_IMAGE_SIDE) throw errors.badInput('region of interest is too small', { roi });
  return { left, top, width: w, height: h };
}

/** Decode, orient, crop to the ROI, resize (keeping aspect), grey -> 3 channels, planar 0..1 floats. */
export async function prepareImage(bytes: Uint8Array, opts: PreprocessOptions): Promise<PreparedImage> {
  const opened = await open(bytes);
  const { width, height } = opened.size;
  const roi = clampRoi(opts.roi, width, height);
  const { netW, netH } = opts.fixedSize
    ? { netW: opts.fixedSize.width, netH: opts.fixedSize.height }
    : networkSize(roi.width, roi.height, opts.inputSize, opts.sizeMultiple);
  let raw: { data: Buffer; info: sharp.OutputInfo };
  try {
    let img = opened.img.rotate();
    if (opts.roi) img = img.extract(roi);
    if (opts.iccProfile === 'ignore') img = img.keepIccProfile();
    raw = await img
      .resize(netW, netH, { fit: 'fill', kernel: 'linear' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (cause) {
    throw mapSharpError(cause);
  }
  const { data, info } = raw;
  const ch = info.channels;
  const n = netW * netH;
  const tensor = new Float32Array(3 * n);
  const inv = 1 / 255;
  for (let i = 0; i < n; i++) {
    const base = i * ch;
    const r = (data[base] ?? 0) * inv;
    const g = ch >= 3 ? (data[base + 1] ?? 0) * inv : r;
    const b = ch >= 3 ? (data[base + 2] ?? 0) * inv : r;
    tensor[i] = r;
    tensor[n + i] = g;
    tensor[2 * n + i] = b;
  }
  return { tensor, netW, netH, width, height, roi };
}

/** Tiles along the longer side chosen for an image of this size when `tiles` is 0 (automatic). */
export const TILING_MIN_SIDE = 2048;
export const TILE_SOURCE_SIDE = 1024;

export function autoTiles(longSide: number): number {
  return longSide >= TILING_MIN_SIDE ? Math.ceil(longSide / TILE_SOURCE_SIDE) : 1;
}

/**
 * Overlapping square tiles over a `width` x `height` region: `tiles` along the longer side, each of side
 * `long / (tiles - (tiles - 1) * overlap)`, as many along the shorter side as cover it, evenly spread.
 */
export function tileGrid(width: number, height: number, tiles: number, overlap: number): Roi[] {
  if (tiles <= 1) return [{ left: 0, top: 0, width, height }];
  const long = Math.max(width, height);
  const side = Math.ceil(long / (tiles - (tiles - 1) * overlap));
  const along = (extent: number): number[] => {
    const s = Math.min(side, extent);
    if (s >= extent) return [0];
    const n = Math.max(2, Math.ceil((extent - s * overlap) / (s * (1 - overlap))));
    return Array.from({ length: n }, (_, i) => Math.round((i * (extent - s)) / (n - 1)));
  };
  const out: Roi[] = [];
  for (const top of along(height))
    for (const left of along(width))
      out.push({ left, top, width: Math.min(side, width), height: Math.min(side, height) });
  return out;
}

export interface PreparedTile extends PreparedImage {
  /** The tile in the analysed region's pixels. */
  readonly rect: Roi;
}

/**
 * Decodes once and cuts the analysed region into overlapping tiles, each resized to the network input
 * (`tiles` along the longer side; 1 gives the plain `prepareImage` result).
 */
export async function prepareTiles(
  bytes: Uint8Array,
  opts: PreprocessOptions & { readonly tiles: number; readonly overlap: number },
): Promise<PreparedTile[]> {
  if (opts.tiles <= 1) {
    const p = await prepareImage(bytes, opts);
    return [{ ...p, rect: { left: 0, top: 0, width: p.roi.width, height: p.roi.height } }];
  }
  const opened = await open(bytes);
  const { width, height } = opened.size;
  const roi = clampRoi(opts.roi, width, height);
  let region: { data: Buffer; info: sharp.OutputInfo };
  try {
    let img = opened.img.rotate();
    if (opts.roi) img = img.extract(roi);
    if (opts.iccProfile === 'ignore') img = img.keepIccProfile();
    region = await img
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (cause) {
    throw mapSharpError(cause);
  }
  const { channels } = region.info;
  const out: PreparedTile[] = [];
  for (const rect of tileGrid(roi.width, roi.height, opts.tiles, opts.overlap)) {
    const { netW, netH } = opts.fixedSize
      ? { netW: opts.fixedSize.width, netH: opts.fixedSize.height }
      : networkSize(rect.width, rect.height, opts.inputSize, opts.sizeMultiple);
    const data = await sharp(region.data, { raw: { width: roi.width, height: roi.height, channels } })
      .extract(rect)
      .resize(netW, netH, { fit: 'fill', kernel: 'linear' })
      .raw({ depth: 'uchar' })
      .toBuffer();
    const n = netW * netH;
    const tensor = new Float32Array(3 * n);
    const inv = 1 / 255;
    for (let i = 0; i < n; i++) {
      const base = i * channels;
      const r = (data[base] ?? 0) * inv;
      tensor[i] = r;
      tensor[n + i] = channels >= 3 ? (data[base + 1] ?? 0) * inv : r;
      tensor[2 * n + i] = channels >= 3 ? (data[base + 2] ?? 0) * inv : r;
    }
    out.push({ tensor, netW, netH, width, height, roi, rect });
  }
  return out;
}
