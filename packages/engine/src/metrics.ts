/**
 * Evaluation metrics. Scores: higher means more anomalous. Labels: true/1 = anomalous.
 */

/** Area under the ROC curve with ties counted half (the Mann-Whitney statistic). */
export function auroc(scores: ArrayLike<number>, labels: ArrayLike<boolean | number>): number {
  // Mann-Whitney U with ties counted half: each class's scores sorted natively (typed arrays, no comparator,
  // no index array: pixel AUROC runs over millions of pixels), then one merge. Counts are integers and halves,
  // exact in doubles, so the value equals the rank-sum formula's.
  const n = scores.length;
  let pos = 0;
  for (let i = 0; i < n; i++) if (labels[i]) pos++;
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  const p = new Float64Array(pos);
  const q = new Float64Array(neg);
  for (let i = 0, a = 0, b = 0; i < n; i++)
    if (labels[i]) p[a++] = scores[i] as number;
    else q[b++] = scores[i] as number;
  p.sort();
  q.sort();
  let below = 0; // negatives strictly below the current positive
  let atOrBelow = 0; // negatives at or below it
  let u = 0;
  for (let i = 0; i < pos; i++) {
    const v = p[i] as number;
    while (below < neg && (q[below] as number) < v) below++;
    if (atOrBelow < below) atOrBelow = below;
    while (atOrBelow < neg && (q[atOrBelow] as number) <= v) atOrBelow++;
    u += below + (atOrBelow - below) / 2;
  }
  return u / (pos * neg);
}

export interface Confusion {
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
}

export function confusion(
  scores: ArrayLike<number>,
  labels: ArrayLike<boolean | number>,
  threshold: number,
): Confusion {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = (scores[i] as number) >= threshold;
    const l = Boolean(labels[i]);
    if (p && l) tp++;
    else if (p) fp++;
    else if (l) fn++;
    else tn++;
  }
  return { tp, fp, tn, fn };
}

export function precisionRecallF1(c: Confusion): { precision: number; recall: number; f1: number } {
  const precision = c.tp + c.fp ? c.tp / (c.tp + c.fp) : 0;
  const recall = c.tp + c.fn ? c.tp / (c.tp + c.fn) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1 };
}

/** The threshold (a midpoint between adjacent distinct scores) with the best F1, and that F1. */
export function bestF1(
  scores: ArrayLike<number>,
  labels: ArrayLike<boolean | number>,
): { threshold: number; f1: number } {
  const n = scores.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number));
  let pos = 0;
  for (let i = 0; i < n; i++) if (labels[i]) pos++;
  if (pos === 0) return { threshold: Infinity, f1: 0 };
  let tp = 0;
  let fp = 0;
  let best = { threshold: Infinity, f1: 0 };
  for (let k = 0; k < n; k++) {
    const i = idx[k] as number;
    if (labels[i]) tp++;
    else fp++;
    const s = scores[i] as number;
    const next = k + 1 < n ? (scores[idx[k + 1] as number] as number) : -Infinity;
    if (next === s) continue;
    const f1 = (2 * tp) / (2 * tp + fp + (pos - tp));
    if (f1 > best.f1) best = { threshold: Number.isFinite(next) ? (s + next) / 2 : s - Math.abs(s) * 1e-6 - 1e-12, f1 };
  }
  return best;
}

/** Intersection over union of two binary masks. NaN when both are empty. */
export function iou(pred: ArrayLike<boolean | number>, truth: ArrayLike<boolean | number>): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = Boolean(pred[i]);
    const t = Boolean(truth[i]);
    if (p && t) inter++;
    if (p || t) union++;
  }
  return union ? inter / union : NaN;
}

/** Per-class IoU for label maps (class index per pixel, 0 = background included). */
export function perClassIou(pred: ArrayLike<number>, truth: ArrayLike<number>, classes: number): number[] {
  const inter = new Float64Array(classes);
  const union = new Float64Array(classes);
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i] as number;
    const t = truth[i] as number;
    if (p === t) {
      inter[p] = (inter[p] ?? 0) + 1;
      union[p] = (union[p] ?? 0) + 1;
    } else {
      union[p] = (union[p] ?? 0) + 1;
      union[t] = (union[t] ?? 0) + 1;
    }
  }
  return Array.from(inter, (v, c) => ((union[c] as number) ? v / (union[c] as number) : NaN));
}

/** Connected components (4-neighbourhood) of a binary mask; returns a label per pixel (0 = none) and the count. */
export function connectedComponents(
  mask: ArrayLike<boolean | number>,
  w: number,
  h: number,
): { labels: Int32Array; count: number } {
  const labels = new Int32Array(w * h);
  let count = 0;
  const stack: number[] = [];
  for (let s = 0; s < w * h; s++) {
    if (!mask[s] || labels[s]) continue;
    count++;
    labels[s] = count;
    stack.push(s);
    while (stack.length) {
      const p = stack.pop() as number;
      const x = p % w;
      const y = (p - x) / w;
      const nb = [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1];
      for (const q of nb) {
        if (q >= 0 && mask[q] && !labels[q]) {
          labels[q] = count;
          stack.push(q);
        }
      }
    }
  }
  return { labels, count };
}

export interface PixelSample {
  /** Anomaly map values, row-major. */
  readonly map: ArrayLike<number>;
  /** Ground truth mask, same size. */
  readonly mask: ArrayLike<boolean | number>;
  readonly width: number;
  readonly height: number;
}

/**
 * Area under the per-region-overlap curve up to a false-positive rate limit (MVTec AD's AUPRO),
 * normalised to [0,1] by the limit. Thresholds are `steps` evenly spaced levels of the score range.
 */
export function aupro(samples: readonly PixelSample[], fprLimit = 0.3, steps = 200): number {
  let min = Infinity;
  let max = -Infinity;
  for (const s of samples)
    for (let i = 0; i < s.map.length; i++) {
      const v = s.map[i] as number;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  if (!(max > min)) return NaN;
  const regions: { sample: number; pixels: number[] }[] = [];
  let negatives = 0;
  samples.forEach((s, si) => {
    const { labels, count } = connectedComponents(s.mask, s.width, s.height);
    const byLabel: number[][] = Array.from({ length: count }, () => []);
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i] as number;
      if (l) (byLabel[l - 1] as number[]).push(i);
      else negatives++;
    }
    for (const pixels of byLabel) regions.push({ sample: si, pixels });
  });
  if (!regions.length || !negatives) return NaN;
  const points: { fpr: number; pro: number }[] = [];
  for (let k = 0; k <= steps; k++) {
    const t = max - ((max - min) * k) / steps;
    let fp = 0;
    for (const s of samples) for (let i = 0; i < s.map.length; i++) if (!s.mask[i] && (s.map[i] as number) >= t) fp++;
    let pro = 0;
    for (const r of regions) {
      const map = (samples[r.sample] as PixelSample).map;
      let hit = 0;
      for (const p of r.pixels) if ((map[p] as number) >= t) hit++;
      pro += hit / r.pixels.length;
    }
    points.push({ fpr: fp / negatives, pro: pro / regions.length });
  }
  let area = 0;
  for (let k = 1; k < points.length; k++) {
    const a = points[k - 1] as { fpr: number; pro: number };
    const b = points[k] as { fpr: number; pro: number };
    if (a.fpr >= fprLimit) break;
    const x1 = Math.min(b.fpr, fprLimit);
    const frac = b.fpr > a.fpr ? (x1 - a.fpr) / (b.fpr - a.fpr) : 0;
    const y1 = a.pro + (b.pro - a.pro) * frac;
    area += ((x1 - a.fpr) * (a.pro + y1)) / 2;
  }
  return area / fprLimit;
}
