import { decompress, FORMAT_RGB } from '@julusian/jpeg-turbo';
import sharp from 'sharp';
import { ErrorCode, VigilError, errors } from '@vigil/contracts';
import { readJpegHeader } from './jpeg-header';

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
  /**
   * Let libvips decode a JPEG already reduced by a power of two in the DCT domain (shrink-on-load) before the
   * linear resize: the default, and what models before the option trained with. `false` decodes at full
   * resolution and reduces with the same linear kernel: a JPEG that needs no rotation, crop or colour
   * conversion is then decoded by libjpeg-turbo directly, ~5 ms for a 576x768 4:4:4 photo here against ~11 ms
   * through libvips (whose entropy decoding is the same cost at any scale).
   */
  readonly shrinkOnLoad?: boolean;
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

interface OpenedImage {
  readonly img: sharp.Sharp;
  readonly meta: sharp.Metadata;
  /** After EXIF orientation. */
  readonly size: { width: number; height: number };
}

/** One sharp instance per image: the header is read once for the checks, then the same instance decodes. */
async function open(bytes: Uint8Array): Promise<OpenedImage> {
  if (!bytes || bytes.length === 0) throw errors.invalidImage('image is empty');
  let meta: sharp.Metadata;
  const img = sharp(bytes, sharpOptions);
  try {
    meta = await img.metadata();
  } catch (cause) {
    throw mapSharpError(cause);
  }
  const swap = (meta.orientation ?? 1) >= 5;
  const [w, h] = [meta.width ?? 0, meta.height ?? 0];
  return { img, meta, size: checkSize(swap ? h : w, swap ? w : h) };
}

/** The size limits, checked before anything is decoded (decompression bombs, images too small to analyse). */
function checkSize(width: number, height: number): { width: number; height: number } {
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
  if (opts.shrinkOnLoad === false) {
    const direct = await prepareJpegDirectly(bytes, opts);
    if (direct) return direct;
  }
  const opened = await open(bytes);
  const { width, height } = opened.size;
  const roi = clampRoi(opts.roi, width, height);
  const { netW, netH } = netSizeOf(roi, opts);
  const dctScaled = opened.meta.format === 'jpeg' || opened.meta.format === 'webp';
  if (opts.shrinkOnLoad === false && dctScaled) {
    // Full resolution first (libvips would otherwise shrink a JPEG or WebP on load), then the linear resize.
    const region = await fullRegion(opened, opts);
    const data = await resizeRaw(region, netW, netH);
    return { tensor: planar(data, region.channels, netW * netH), netW, netH, width, height, roi };
  }
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
  return { tensor: planar(raw.data, raw.info.channels, netW * netH), netW, netH, width, height, roi };
}

function netSizeOf(roi: Roi, opts: PreprocessOptions): { netW: number; netH: number } {
  return opts.fixedSize
    ? { netW: opts.fixedSize.width, netH: opts.fixedSize.height }
    : networkSize(roi.width, roi.height, opts.inputSize, opts.sizeMultiple);
}

interface RawRegion {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: sharp.Channels;
}

/**
 * A JPEG that needs no rotation, crop or colour conversion, decoded by libjpeg-turbo directly: ~5 ms for a
 * 576x768 4:4:4 photo here against ~11 ms through libvips (whose entropy decoding costs the same at any
 * scale), with the header read by `readJpegHeader` and the size limits checked before decoding. Undefined when
 * the image is not such a JPEG or libjpeg-turbo refuses it (truncated, corrupt): sharp then decodes it, or says
 * exactly why it cannot.
 */
async function prepareJpegDirectly(bytes: Uint8Array, opts: PreprocessOptions): Promise<PreparedImage | undefined> {
  const header = opts.roi ? undefined : readJpegHeader(bytes);
  if (!header || header.orientation !== 1 || (header.components !== 1 && header.components !== 3)) return undefined;
  if (header.hasIccProfile && opts.iccProfile !== 'ignore') return undefined;
  const { width, height } = checkSize(header.width, header.height);
  const pixels = decodeBuffers.take(width * height * 3);
  try {
    let region: RawRegion;
    try {
      const out = await decompress(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), pixels, {
        format: FORMAT_RGB,
      });
      if (out.width !== width || out.height !== height) return undefined;
      region = { data: out.data, width, height, channels: 3 };
    } catch {
      return undefined;
    }
    const roi = { left: 0, top: 0, width, height };
    const { netW, netH } = netSizeOf(roi, opts);
    const data = await resizeRaw(region, netW, netH);
    return { tensor: planar(data, 3, netW * netH), netW, netH, width, height, roi };
  } finally {
    decodeBuffers.giveBack(pixels);
  }
}

/**
 * Decoded-pixel buffers, reused across images of the same size: a 576x768 photo is 1.3 MB, and allocating one
 * per image kept V8's collector busy with external memory. A few per size, for the requests in flight.
 */
const decodeBuffers = {
  spare: new Map<number, Buffer[]>(),
  take(size: number): Buffer {
    return this.spare.get(size)?.pop() ?? Buffer.allocUnsafe(size);
  },
  giveBack(buffer: Buffer): void {
    if (!this.spare.has(buffer.length) && this.spare.size >= 4) this.spare.clear();
    const list = this.spare.get(buffer.length) ?? [];
    if (list.length < 4) list.push(buffer);
    this.spare.set(buffer.length, list);
  },
};

/** sharp's linear resize of raw pixels (the same kernel as the one-pipeline path). */
async function resizeRaw(region: RawRegion, netW: number, netH: number): Promise<Buffer> {
  const { width, height, channels } = region;
  try {
    return await sharp(region.data, { raw: { width, height, channels } })
      .resize(netW, netH, { fit: 'fill', kernel: 'linear' })
      .raw({ depth: 'uchar' })
      .toBuffer();
  } catch (cause) {
    throw mapSharpError(cause);
  }
}

/** Interleaved 8-bit pixels (1 channel: grey, replicated) as planar RGB floats in 0..1. */
function planar(data: Uint8Array, channels: number, n: number): Float32Array {
  const tensor = new Float32Array(3 * n);
  const inv = 1 / 255;
  for (let i = 0; i < n; i++) {
    const base = i * channels;
    const r = (data[base] ?? 0) * inv;
    tensor[i] = r;
    tensor[n + i] = channels >= 3 ? (data[base + 1] ?? 0) * inv : r;
    tensor[2 * n + i] = channels >= 3 ? (data[base + 2] ?? 0) * inv : r;
  }
  return tensor;
}

/** The analysed region's pixels at full resolution, oriented, colour-handled as asked, 8-bit interleaved. */
async function fullRegion(opened: OpenedImage, opts: PreprocessOptions): Promise<RawRegion> {
  try {
    let img = opened.img.rotate();
    if (opts.roi) img = img.extract(clampRoi(opts.roi, opened.size.width, opened.size.height));
    if (opts.iccProfile === 'ignore') img = img.keepIccProfile();
    const { data, info } = await img.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({
      resolveWithObject: true,
    });
    return { data, width: info.width, height: info.height, channels: info.channels };
  } catch (cause) {
    throw mapSharpError(cause);
  }
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
    out.push({ tensor: planar(data, channels, netW * netH), netW, netH, width, height, roi, rect });
  }
  return out;
}
