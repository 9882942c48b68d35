import sharp from 'sharp';
import { type Roi } from './preprocess';

/** A perceptual "jet"-like colour ramp, 256 entries of RGB. */
const JET = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const v = i / 255;
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

/** Scales an RGB raster of the analysed region to the region's size and places it in a black full-size canvas. */
async function placePng(
  rgb: Uint8Array,
  w: number,
  h: number,
  at: Placement,
  kernel: 'linear' | 'nearest',
): Promise<Buffer> {
  let img = sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).resize(at.roi.width, at.roi.height, {
    fit: 'fill',
    kernel,
  });
  const right = at.width - at.roi.left - at.roi.width;
  const bottom = at.height - at.roi.top - at.roi.height;
  if (at.roi.left || at.roi.top || right || bottom) {
    img = sharp(await img.raw().toBuffer(), {
      raw: { width: at.roi.width, height: at.roi.height, channels: 3 },
    }).extend({ left: at.roi.left, top: at.roi.top, right, bottom, background: { r: 0, g: 0, b: 0 } });
  }
  return img.png({ compressionLevel: 2, adaptiveFiltering: false }).toBuffer();
}

/** Heat map PNG of `map` (values scaled so that `half` maps to the middle of the ramp), image-sized. */
export async function heatmapPng(
  map: Float32Array,
  w: number,
  h: number,
  half: number,
  at: Placement,
): Promise<Buffer> {
  const rgb = new Uint8Array(w * h * 3);
  const k = half > 0 ? 127.5 / half : 0;
  for (let i = 0; i < w * h; i++) {
    const v = Math.max(0, Math.min(255, Math.round((map[i] as number) * k)));
    rgb[i * 3] = JET[v * 3] as number;
    rgb[i * 3 + 1] = JET[v * 3 + 1] as number;
    rgb[i * 3 + 2] = JET[v * 3 + 2] as number;
  }
  return placePng(rgb, w, h, at, 'linear');
}

export function parseHexColor(hex: string): [number, number, number] {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex.trim());
  const v = m ? parseInt(m[1] as string, 16) : 0xff0000;
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** Class-coloured mask PNG from a label raster (0 = background). */
export async function labelMaskPng(
  labels: Uint8Array,
  w: number,
  h: number,
  colors: readonly string[],
  at: Placement,
): Promise<Buffer> {
  const rgbOf = colors.map(parseHexColor);
  const rgb = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const l = labels[i] as number;
    if (!l) continue;
    const c = rgbOf[l - 1] ?? [255, 0, 0];
    rgb[i * 3] = c[0];
    rgb[i * 3 + 1] = c[1];
    rgb[i * 3 + 2] = c[2];
  }
  return placePng(rgb, w, h, at, 'nearest');
}
