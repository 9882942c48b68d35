import { rng } from './random';

/**
 * Synthetic defects for validating candidate configurations (CutPaste-style): drawn into held-out normal
 * images so every candidate sees the same defects. Geometry is in fractions of the image's longer side, so a
 * defect covers the same part of the image whatever the network input size; its scale is set by the caller
 * (`DefectScale.size`: from the labelled masks, else from the image size). Shading defects (scratches, spots)
 * change brightness by a multiple of the local contrast around them, so a smooth surface gets a subtle defect
 * and a busy texture a stronger one.
 */
export type SyntheticDefect =
  | {
      readonly kind: 'scratch';
      readonly x0: number;
      readonly y0: number;
      readonly x1: number;
      readonly y1: number;
      readonly halfWidth: number;
      /** Brightness change in multiples of the local standard deviation (sign = darker / brighter). */
      readonly tone: number;
    }
  | {
      readonly kind: 'spot';
      readonly cx: number;
      readonly cy: number;
      readonly rx: number;
      readonly ry: number;
      readonly tone: number;
    }
  | {
      readonly kind: 'cutpaste';
      readonly sx: number;
      readonly sy: number;
      readonly dx: number;
      readonly dy: number;
      readonly size: number;
      readonly gain: number;
    }
  | {
      readonly kind: 'missing';
      readonly cx: number;
      readonly cy: number;
      readonly rx: number;
      readonly ry: number;
      /** How far the region is filled with the background (0.5..1: worn / chipped rather than cut out). */
      readonly depth: number;
    };

export const DEFECT_KINDS = ['scratch', 'spot', 'cutpaste', 'missing'] as const;

/** Typical defect radius, as a fraction of the image's longer side, at `size` 1. */
export const REFERENCE_DEFECT_RADIUS = 0.025;

export interface DefectScale {
  /** Multiplies all defect geometry (1 = spots of radius ~`REFERENCE_DEFECT_RADIUS` of the long side). */
  readonly size: number;
  /** Multiplies the shading defects' brightness change and the missing pieces' depth (default 1). */
  readonly contrast?: number;
}

/**
 * The defect scale for a project: from the labelled anomalies' masks when there are any (the median defect's
 * equivalent radius, `maskRadii` as fractions of the long side), else from the image size: defects of ~12 px
 * at 512 px, growing with the square root of the size (`12·√(long/512)` px), so small images get relatively
 * larger defects and large images relatively smaller ones. Clamped to 0.25..4.
 */
export function defectScale(imageLongSide: number, maskRadii: readonly number[] = []): DefectScale {
  const sorted = maskRadii.filter((r) => r > 0).sort((a, b) => a - b);
  const radius = sorted.length
    ? (sorted[Math.floor((sorted.length - 1) / 2)] as number)
    : (12 * Math.sqrt(Math.max(imageLongSide, 16) / 512)) / Math.max(imageLongSide, 16);
  return { size: Math.max(0.25, Math.min(4, radius / REFERENCE_DEFECT_RADIUS)) };
}

/** `n` defects cycling through the kinds, placed in the central part of an image of aspect `w:h`. */
export function randomDefects(
  n: number,
  seed: number,
  aspect: { w: number; h: number },
  scale: DefectScale = { size: 1 },
): SyntheticDefect[] {
  const next = rng(seed ^ 0xdefec7);
  const k = scale.size;
  const contrast = scale.contrast ?? 1;
  const long = Math.max(aspect.w, aspect.h);
  const fw = aspect.w / long; // extent of the image in long-side units
  const fh = aspect.h / long;
  const at = (): { x: number; y: number } => ({ x: fw * (0.15 + 0.7 * next()), y: fh * (0.15 + 0.7 * next()) });
  const tone = (): number => (next() < 0.5 ? -1 : 1) * contrast * (0.8 + 1.6 * next());
  const out: SyntheticDefect[] = [];
  for (let i = 0; i < n; i++) {
    const kind = DEFECT_KINDS[i % DEFECT_KINDS.length] as SyntheticDefect['kind'];
    const c = at();
    switch (kind) {
      case 'scratch': {
        const len = k * (0.06 + 0.12 * next());
        const a = next() * Math.PI;
        out.push({
          kind,
          x0: c.x - (Math.cos(a) * len) / 2,
          y0: c.y - (Math.sin(a) * len) / 2,
          x1: c.x + (Math.cos(a) * len) / 2,
          y1: c.y + (Math.sin(a) * len) / 2,
          halfWidth: Math.sqrt(k) * (0.003 + 0.004 * next()),
          tone: tone(),
        });
        break;
      }
      case 'spot': {
        const r = k * (0.012 + 0.025 * next());
        out.push({ kind, cx: c.x, cy: c.y, rx: r * (0.6 + 0.8 * next()), ry: r, tone: tone() });
        break;
      }
      case 'cutpaste': {
        const s = at();
        out.push({
          kind,
          sx: s.x,
          sy: s.y,
          dx: c.x,
          dy: c.y,
          size: k * (0.04 + 0.06 * next()),
          gain: 0.8 + 0.4 * next(),
        });
        break;
      }
      case 'missing': {
        const r = k * (0.02 + 0.04 * next());
        out.push({
          kind,
          cx: c.x,
          cy: c.y,
          rx: r,
          ry: r * (0.5 + 0.5 * next()),
          depth: Math.min(1, contrast * (0.5 + 0.5 * next())),
        });
        break;
      }
    }
  }
  return out;
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * Draws a defect into a copy of a planar RGB tensor [3, h, w] (0..1). Returns the new tensor and a mask
 * (1 where the defect changed the image noticeably).
 */
export function drawDefect(
  tensor: Float32Array,
  w: number,
  h: number,
  d: SyntheticDefect,
): { tensor: Float32Array; mask: Uint8Array } {
  const out = Float32Array.from(tensor);
  const mask = new Uint8Array(w * h);
  const n = w * h;
  const long = Math.max(w, h);
  const px = (v: number): number => v * long;
  /** Blends pixel i towards `target(c, value)` with coverage `a`. */
  const blend = (i: number, a: number, target: (c: number, v: number) => number): void => {
    if (a <= 0) return;
    let change = 0;
    for (let c = 0; c < 3; c++) {
      const v = tensor[c * n + i] as number;
      const t = clamp01(target(c, v));
      const nv = v + (t - v) * a;
      out[c * n + i] = nv;
      change = Math.max(change, Math.abs(nv - v));
    }
    if (change > 0.04) mask[i] = 1;
  };
  /** Luminance standard deviation in a window of radius `r` px around (cx, cy) (every other pixel). */
  const localStd = (cx: number, cy: number, r: number): number => {
    let s = 0;
    let s2 = 0;
    let c = 0;
    for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(h - 1, Math.ceil(cy + r)); y += 2)
      for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(w - 1, Math.ceil(cx + r)); x += 2) {
        const i = y * w + x;
        const l = ((tensor[i] as number) + (tensor[n + i] as number) + (tensor[2 * n + i] as number)) / 3;
        s += l;
        s2 += l * l;
        c++;
      }
    if (!c) return 0.1;
    const m = s / c;
    return Math.sqrt(Math.max(0, s2 / c - m * m));
  };
  /** A brightness change of `tone` local standard deviations (at least 0.06, at most 0.6). */
  const shade = (tone: number, sd: number) => {
    const delta = Math.sign(tone) * Math.min(0.6, Math.max(0.05, Math.abs(tone) * sd));
    return (_c: number, v: number): number => v + delta;
  };
  switch (d.kind) {
    case 'scratch': {
      const ax = px(d.x0);
      const ay = px(d.y0);
      const bx = px(d.x1);
      const by = px(d.y1);
      const hw = Math.max(0.6, px(d.halfWidth));
      const len2 = (bx - ax) ** 2 + (by - ay) ** 2 || 1;
      const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - hw - 1));
      const x1 = Math.min(w - 1, Math.ceil(Math.max(ax, bx) + hw + 1));
      const y0 = Math.max(0, Math.floor(Math.min(ay, by) - hw - 1));
      const y1 = Math.min(h - 1, Math.ceil(Math.max(ay, by) + hw + 1));
      const target = shade(d.tone, localStd((ax + bx) / 2, (ay + by) / 2, Math.max(8, Math.sqrt(len2) / 2)));
      for (let y = y0; y <= y1; y++)
        for (let x = x0; x <= x1; x++) {
          const t = Math.max(0, Math.min(1, ((x + 0.5 - ax) * (bx - ax) + (y + 0.5 - ay) * (by - ay)) / len2));
          const dist = Math.hypot(x + 0.5 - (ax + t * (bx - ax)), y + 0.5 - (ay + t * (by - ay)));
          blend(y * w + x, clamp01(hw + 0.5 - dist), target);
        }
      break;
    }
    case 'spot':
    case 'missing': {
      const cx = px(d.cx);
      const cy = px(d.cy);
      const rx = Math.max(1, px(d.rx));
      const ry = Math.max(1, px(d.ry));
      // A missing piece shows the background: estimated as the mean of the image's border pixels.
      const bg = [0, 0, 0];
      if (d.kind === 'missing') {
        let count = 0;
        for (let x = 0; x < w; x++)
          for (const y of [0, h - 1]) {
            for (let c = 0; c < 3; c++) bg[c] = (bg[c] as number) + (tensor[c * n + y * w + x] as number);
            count++;
          }
        for (let c = 0; c < 3; c++) bg[c] = (bg[c] as number) / count;
      }
      const target =
        d.kind === 'spot'
          ? shade(d.tone, localStd(cx, cy, Math.max(6, 2 * Math.max(rx, ry))))
          : (c: number) => bg[c] as number;
      for (let y = Math.max(0, Math.floor(cy - ry - 1)); y <= Math.min(h - 1, Math.ceil(cy + ry + 1)); y++)
        for (let x = Math.max(0, Math.floor(cx - rx - 1)); x <= Math.min(w - 1, Math.ceil(cx + rx + 1)); x++) {
          const r = Math.hypot((x + 0.5 - cx) / rx, (y + 0.5 - cy) / ry);
          // Soft edge about one pixel wide.
          const depth = d.kind === 'missing' ? d.depth : 1;
          blend(y * w + x, depth * clamp01((1 - r) * Math.min(rx, ry) + 0.5), target);
        }
      break;
    }
    case 'cutpaste': {
      // A patch from elsewhere in the image, transposed (rotated and mirrored) and gain-jittered.
      const s = Math.max(3, Math.round(px(d.size)));
      const sx = Math.max(0, Math.min(w - s, Math.round(px(d.sx) - s / 2)));
      const sy = Math.max(0, Math.min(h - s, Math.round(px(d.sy) - s / 2)));
      const dx = Math.max(0, Math.min(w - s, Math.round(px(d.dx) - s / 2)));
      const dy = Math.max(0, Math.min(h - s, Math.round(px(d.dy) - s / 2)));
      for (let y = 0; y < s; y++)
        for (let x = 0; x < s; x++) {
          const src = (sy + x) * w + (sx + y);
          blend((dy + y) * w + dx + x, 1, (c) => (tensor[c * n + src] as number) * d.gain);
        }
      break;
    }
  }
  return { tensor: out, mask };
}
