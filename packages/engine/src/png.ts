import { promisify } from 'node:util';
import { crc32, deflate, constants } from 'node:zlib';

const deflateAsync = promisify(deflate);

/**
 * A minimal PNG writer for 8-bit palette (colour type 3) images. Heat maps and masks are smooth or flat
 * rasters of palette indices, so one byte per pixel with the Sub filter and fast deflate is several times
 * cheaper than encoding RGB through libvips.
 */

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)) >>> 0, 8 + data.length);
  return out;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Applies PNG's Sub filter to rows of palette indices: [h, w] -> [h, 1 + w] scanlines. */
export function subFilter(indices: Uint8Array, w: number, h: number): Uint8Array {
  const out = new Uint8Array(h * (w + 1));
  let o = 0;
  let s = 0;
  for (let y = 0; y < h; y++) {
    out[o++] = 1;
    let prev = 0;
    for (let x = 0; x < w; x++) {
      const v = indices[s++] as number;
      out[o++] = (v - prev) & 255;
      prev = v;
    }
  }
  return out;
}

/**
 * PNG from filtered scanlines ([h, 1 + w], each led by its filter type: Sub or Up) of palette indices; `palette` is RGB triplets (<= 256). The
 * deflate (~2 ms for a 576×768 heat map) runs on libuv's thread pool, so the caller's thread meanwhile does
 * other work (the segmentation) and a single detection's latency uses the second core.
 */
export async function encodeFilteredPalettePng(
  scanlines: Uint8Array,
  w: number,
  h: number,
  palette: Uint8Array,
): Promise<Buffer> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 3; // colour type: palette
  const idat = await deflateAsync(scanlines, { level: 1, strategy: constants.Z_RLE });
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('PLTE', palette),
    chunk('IDAT', idat),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** PNG of palette indices [h, w]. */
export function encodePalettePng(indices: Uint8Array, w: number, h: number, palette: Uint8Array): Promise<Buffer> {
  return encodeFilteredPalettePng(subFilter(indices, w, h), w, h, palette);
}

/**
 * Resampling of a single-channel map [h, w] to palette indices [outH, outW]: bilinear along rows (half-pixel
 * centres), nearest source row vertically; index = round(clamp(value * scale, 0, maxIndex)). An upscaled map's
 * consecutive output rows then repeat (3 of 3 at 256 -> 768 px), which costs nothing to compute and, with
 * `filtered`, is written as PNG "Up" rows of zeros that deflate almost for free: a 576x768 heat map takes
 * ~2.5 ms and ~30 KB instead of ~7 ms and ~90 KB for fully bilinear rows. The map is Gaussian-smoothed at the
 * network's scale, so neighbouring source rows differ by a palette step or two and the repetition is not
 * visible. With `filtered`, the result is PNG scanlines ([outH, 1 + outW]: Sub-filtered, or Up for a repeated
 * row) ready for `encodeFilteredPalettePng`.
 */
export function resampleToIndices(
  map: Float32Array,
  w: number,
  h: number,
  outW: number,
  outH: number,
  scale: number,
  maxIndex: number,
  filtered = false,
): Uint8Array {
  const stride = filtered ? outW + 1 : outW;
  const out = new Uint8Array(stride * outH);
  const sx = w / outW;
  const x0s = new Int32Array(outW);
  const x1s = new Int32Array(outW);
  const fxs = new Float32Array(outW);
  for (let x = 0; x < outW; x++) {
    const fx = Math.max(0, Math.min(w - 1, (x + 0.5) * sx - 0.5));
    const x0 = Math.floor(fx);
    x0s[x] = x0;
    x1s[x] = Math.min(w - 1, x0 + 1);
    fxs[x] = fx - x0;
  }
  const scaled = new Float32Array(w * h);
  for (let i = 0; i < scaled.length; i++) {
    const v = (map[i] as number) * scale;
    scaled[i] = v <= 0 ? 0 : v >= maxIndex ? maxIndex : v;
  }
  let lastSrc = -1;
  for (let y = 0; y < outH; y++) {
    const src = Math.min(h - 1, Math.floor(((y + 0.5) * h) / outH));
    const o = y * stride;
    if (src === lastSrc) {
      // A repeated row: PNG Up filter with zero differences (the array is zero-filled), or a copy.
      if (filtered) out[o] = 2;
      else out.copyWithin(o, o - stride, o);
      continue;
    }
    lastSrc = src;
    const r = src * w;
    if (!filtered) {
      for (let x = 0; x < outW; x++) {
        const a = scaled[r + (x0s[x] as number)] as number;
        out[o + x] = (a + ((scaled[r + (x1s[x] as number)] as number) - a) * (fxs[x] as number) + 0.5) | 0;
      }
      continue;
    }
    // Interpolated and Sub-filtered in one pass.
    out[o] = 1;
    let prev = 0;
    for (let x = 0; x < outW; x++) {
      const a = scaled[r + (x0s[x] as number)] as number;
      const v = (a + ((scaled[r + (x1s[x] as number)] as number) - a) * (fxs[x] as number) + 0.5) | 0;
      out[o + 1 + x] = (v - prev) & 255;
      prev = v;
    }
  }
  return out;
}
