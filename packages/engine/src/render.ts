import { encodeFilteredPalettePng, encodePalettePng, resampleToIndices } from './png';
import { type Roi } from './preprocess';

/** Palette index used for pixels outside the analysed region (black). */
const OUTSIDE = 255;

/** A perceptual "jet"-like colour ramp in palette entries 0..254; entry 255 is black. */
const JET_PALETTE = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 255; i++) {
    const v = i / 254;
    const r = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - 3)));
    const g = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - 2)));
    const b = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - 1)));
    lut[i * 3] = Math.round(r * 255);
    lut[i * 3 + 1] = Math.round(g * 255);
    lut[i * 3 + 2] = Math.round(b * 255);
  }
  return lut;
})();

export interface Placement {
  readonly width: number;
  readonly height: number;
  readonly roi: Roi;
}

/** Places a raster of the analysed region into a full-size one filled with `fill`. */
function place(region: Uint8Array, at: Placement, fill: number): Uint8Array {
  const { roi } = at;
  if (!roi.left && !roi.top && roi.width === at.width && roi.height === at.height) return region;
  const out = new Uint8Array(at.width * at.height).fill(fill);
  for (let y = 0; y < roi.height; y++)
    out.set(region.subarray(y * roi.width, (y + 1) * roi.width), (roi.top + y) * at.width + roi.left);
  return out;
}

/**
 * Heat map PNG of `map` (values scaled so that `half` maps to the middle of the ramp), resampled to the analysed
 * region's size (`resampleToIndices`: bilinear along rows, nearest row vertically) and placed in an image-sized
 * canvas (black outside the region).
 */
export function heatmapPng(map: Float32Array, w: number, h: number, half: number, at: Placement): Promise<Buffer> {
  const scale = half > 0 ? 127 / half : 0;
  const { roi } = at;
  if (!roi.left && !roi.top && roi.width === at.width && roi.height === at.height) {
    const scanlines = resampleToIndices(map, w, h, at.width, at.height, scale, 254, true);
    return encodeFilteredPalettePng(scanlines, at.width, at.height, JET_PALETTE);
  }
  const region = resampleToIndices(map, w, h, roi.width, roi.height, scale, 254);
  return encodePalettePng(place(region, at, OUTSIDE), at.width, at.height, JET_PALETTE);
}

export function parseHexColor(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex.trim());
  const v = m ? parseInt(m[1] as string, 16) : 0xff0000;
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/**
 * All-background masks by size and palette: most images on a line are good, and their mask PNG is the same for
 * every image of a size (~1.5 ms of resampling and deflate saved per good image at 576x768).
 */
const blankMasks = new Map<string, Promise<Buffer>>();

/** Class-coloured mask PNG from a label raster (0 = background, black), nearest-neighbour resampled. */
export async function labelMaskPng(
  labels: Uint8Array,
  w: number,
  h: number,
  colors: readonly string[],
  at: Placement,
): Promise<Buffer> {
  let blank = true;
  for (let i = 0; i < labels.length && blank; i++) blank = labels[i] === 0;
  if (!blank) return encodeLabelMask(labels, w, h, colors, at);
  const { roi } = at;
  const key = [w, h, at.width, at.height, roi.left, roi.top, roi.width, roi.height, ...colors].join(',');
  let png = blankMasks.get(key);
  if (!png) {
    if (blankMasks.size >= 16) blankMasks.clear();
    png = encodeLabelMask(new Uint8Array(w * h), w, h, colors, at);
    blankMasks.set(key, png);
    png.catch(() => blankMasks.delete(key));
  }
  // A copy: callers own (and worker threads transfer) the buffer they get.
  return Buffer.from(await png);
}

function encodeLabelMask(
  labels: Uint8Array,
  w: number,
  h: number,
  colors: readonly string[],
  at: Placement,
): Promise<Buffer> {
  const palette = new Uint8Array(3 * (colors.length + 1));
  colors.forEach((c, i) => palette.set(parseHexColor(c), 3 * (i + 1)));
  const rw = at.roi.width;
  const rh = at.roi.height;
  const { roi } = at;
  // Full-frame masks are written directly as Sub-filtered PNG scanlines; otherwise placed in a canvas first.
  const direct = !roi.left && !roi.top && roi.width === at.width && roi.height === at.height;
  const stride = direct ? rw + 1 : rw;
  const region = new Uint8Array(stride * rh);
  const xs = new Int32Array(rw);
  for (let x = 0; x < rw; x++) xs[x] = Math.min(w - 1, Math.floor(((x + 0.5) * w) / rw));
  let lastSrc = -1;
  for (let y = 0; y < rh; y++) {
    const src = Math.min(h - 1, Math.floor(((y + 0.5) * h) / rh));
    let o = y * stride;
    // Upscaled rows repeat: a PNG Up row of zeros when written directly (deflates almost for free), else a copy.
    if (src === lastSrc) {
      if (direct) region[o] = 2;
      else region.copyWithin(o, o - stride, o);
    } else {
      const sy = src * w;
      if (direct) {
        region[o++] = 1;
        let prev = 0;
        for (let x = 0; x < rw; x++) {
          const v = labels[sy + (xs[x] as number)] as number;
          region[o++] = (v - prev) & 255;
          prev = v;
        }
      } else for (let x = 0; x < rw; x++) region[o++] = labels[sy + (xs[x] as number)] as number;
    }
    lastSrc = src;
  }
  if (direct) return encodeFilteredPalettePng(region, rw, rh, palette);
  return encodePalettePng(place(region, at, 0), at.width, at.height, palette);
}
