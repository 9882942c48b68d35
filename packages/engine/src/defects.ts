import { rng } from './random';

/**
 * Synthetic defects for validating candidate configurations (CutPaste-style): drawn into held-out normal
 * images so every candidate sees the same defects. Geometry is in fractions of the image's longer side, so a
 * defect covers the same part of the image whatever the network input size.
 */
export type SyntheticDefect =
  | {
      readonly kind: 'scratch';
      readonly x0: number;
      readonly y0: number;
      readonly x1: number;
      readonly y1: number;
      readonly halfWidth: number;
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
  | { readonly kind: 'missing'; readonly cx: number; readonly cy: number; readonly rx: number; readonly ry: number };

export const DEFECT_KINDS = ['scratch', 'spot', 'cutpaste', 'missing'] as const;

/** `n` defects cycling through the kinds, placed in the central part of an image of aspect `w:h`. */
export function randomDefects(n: number, seed: number, aspect: { w: number; h: number }): SyntheticDefect[] {
  const next = rng(seed ^ 0xdefec7);
  const long = Math.max(aspect.w, aspect.h);
  const fw = aspect.w / long; // extent of the image in long-side units
  const fh = aspect.h / long;
  const at = (): { x: number; y: number } => ({ x: fw * (0.15 + 0.7 * next()), y: fh * (0.15 + 0.7 * next()) });
  const tone = (): number => (next() < 0.5 ? -1 : 1) * (0.25 + 0.35 * next());
  const out: SyntheticDefect[] = [];
  for (let i = 0; i < n; i++) {
    const kind = DEFECT_KINDS[i % DEFECT_KINDS.length] as SyntheticDefect['kind'];
    const c = at();
    switch (kind) {
      case 'scratch': {
        const len = 0.06 + 0.12 * next();
        const a = next() * Math.PI;
        out.push({
          kind,
          x0: c.x - (Math.cos(a) * len) / 2,
          y0: c.y - (Math.sin(a) * len) / 2,
          x1: c.x + (Math.cos(a) * len) / 2,
          y1: c.y + (Math.sin(a) * len) / 2,
          halfWidth: 0.003 + 0.004 * next(),
          tone: tone(),
        });
        break;
      }
      case 'spot': {
        const r = 0.012 + 0.025 * next();
        out.push({ kind, cx: c.x, cy: c.y, rx: r * (0.6 + 0.8 * next()), ry: r, tone: tone() });
        break;
      }
      case 'cutpaste': {
        const s = at();
        out.push({ kind, sx: s.x, sy: s.y, dx: c.x, dy: c.y, size: 0.04 + 0.06 * next(), gain: 0.8 + 0.4 * next() });
        break;
      }
      case 'missing': {
        const r = 0.02 + 0.04 * next();
        out.push({ kind, cx: c.x, cy: c.y, rx: r, ry: r * (0.5 + 0.5 * next()) });
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
  const shade = (tone: number) => (_c: number, v: number) => (tone < 0 ? v * (1 + tone) : v + (1 - v) * tone);
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
      const target = shade(d.tone);
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
      const target = d.kind === 'spot' ? shade(d.tone) : (c: number) => bg[c] as number;
      for (let y = Math.max(0, Math.floor(cy - ry - 1)); y <= Math.min(h - 1, Math.ceil(cy + ry + 1)); y++)
        for (let x = Math.max(0, Math.floor(cx - rx - 1)); x <= Math.min(w - 1, Math.ceil(cx + rx + 1)); x++) {
          const r = Math.hypot((x + 0.5 - cx) / rx, (y + 0.5 - cy) / ry);
          // Soft edge about one pixel wide.
          blend(y * w + x, clamp01((1 - r) * Math.min(rx, ry) + 0.5), target);
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
