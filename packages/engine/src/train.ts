import { errors } from '@vigil/contracts';
import { writeArtifact, type ArtifactHeader } from './artifact';
import { type FeatureMap } from './backbone/features';
import { DEFAULT_CONFIG, type EngineConfig, type ProgressCallback, type ThresholdPolicy } from './config';
import { bestF1 } from './metrics';
import {
  buildBank,
  createScorer,
  decodeMask,
  analyse,
  extract,
  openExtractor,
  type AnalysedImage,
  imageScore,
  licenceOf,
  topKMean,
  type Extracted,
  type MaskClass,
} from './patchcore';
import { autoTiles, probeImage } from './preprocess';
import { candidateOverrides, SELECTION_BUDGET_UNITS, selectConfig, type SelectionReport } from './select';
import { shuffled } from './random';
import {
  anomalyPatchRows,
  fitSharpening,
  sharpenedDistances,
  type FittedSharpening,
  type ScoredAnomaly,
  type ScoredForSharpening,
  type SharpenReport,
} from './sharpen';

export const ENGINE_VERSION = '0.1.0';

/**
 * Fixed conversion of the deprecated `selectionBudgetSeconds` into work units (~15 ms per unit on the
 * reference 2-core machine): a constant, so a budget given in seconds is still deterministic.
 */
export const UNITS_PER_SECOND = SELECTION_BUDGET_UNITS / 60;

export interface TrainingImage {
  readonly bytes: Uint8Array;
  readonly label: 'normal' | 'anomaly';
  /** Optional defect mask (PNG), coloured by class as in a Lookout / Ground Truth colour map. */
  readonly mask?: Uint8Array;
}

export interface TrainOptions {
  /** Settings to pin; the rest come from the defaults. */
  readonly config?: Partial<EngineConfig>;
  readonly threshold?: ThresholdPolicy;
  /** Defect classes of the masks (name + hex colour). */
  readonly classes?: readonly MaskClass[];
  /** Fraction of the normal images held out for calibration (default 0.2). */
  readonly calibrationFraction?: number;
  readonly seed?: number;
  readonly threads?: number;
  readonly cacheDir?: string;
  /**
   * Choose the settings not pinned in `config` (input size, layers, aggregation, networks, top-k) by two-fold
   * cross-fitting over the normals, scored on held-out normals, synthetic defects drawn into them, and the
   * labelled anomalies; the default settings are kept unless a candidate wins on every fold (README, Method
   * 3a). Default true; needs >= 6 normal images, untiled images and a built-in backbone. `false` trains the
   * fixed defaults (plus what `config` pins).
   */
  readonly autoConfig?: boolean;
  /**
   * Work the automatic choice may spend, in work units (default `SELECTION_BUDGET_UNITS`, ~60 s here); a
   * candidate that would overrun it is skipped. Counted in units of images x input size, never in seconds, so
   * the same data always yields the same model whatever the machine's load.
   */
  readonly selectionBudget?: number;
  /** @deprecated Use `selectionBudget`; converted at the fixed rate `UNITS_PER_SECOND` (not timed). */
  readonly selectionBudgetSeconds?: number;
  /**
   * Sharpening with labelled anomalies (README, Method 3b): pins its weight (0 = off). By default the weight is
   * cross-validated when there are at least 4 labelled anomalies with defect patches, and stays off unless it
   * helps on held-out data. Untiled models with the built-in scoring only (not with `reweight`).
   */
  readonly sharpenWeight?: number;
}

export interface TrainingSummary {
  readonly config: EngineConfig;
  readonly bankRows: number;
  readonly dims: number;
  readonly threshold: ArtifactHeader['threshold'];
  readonly calibration: { readonly normals: number; readonly anomalies: number; readonly f1?: number };
  /** What the automatic configuration tried and chose (absent when it did not run). */
  readonly selection?: SelectionReport;
  /** What sharpening with labelled anomalies tried and chose (absent when it did not run). */
  readonly sharpening?: SharpenReport;
  readonly seconds: number;
}

export interface TrainedModel {
  readonly artifact: Uint8Array;
  readonly summary: TrainingSummary;
}

function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return NaN;
  const pos = Math.max(0, Math.min(sorted.length - 1, q * (sorted.length - 1)));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

function meanStd(xs: readonly number[]): { mean: number; std: number } {
  if (!xs.length) return { mean: 0, std: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return { mean, std: Math.sqrt(v) };
}

export function chooseThreshold(
  normals: readonly number[],
  anomalies: readonly number[],
  policy: ThresholdPolicy,
): { threshold: number; f1?: number } {
  const n = [...normals].sort((a, b) => a - b);
  const a = [...anomalies].sort((x, y) => x - y);
  const { mean, std } = meanStd(n);
  const unsupervised = (): number => Math.max(quantile(n, 1), mean + 3 * std);
  switch (policy.mode) {
    case 'falseRejectRate':
      return { threshold: n.length ? quantile(n, 1 - policy.rate) : NaN };
    case 'missRate':
      if (!a.length) return { threshold: unsupervised() };
      return { threshold: quantile(a, policy.rate) };
    case 'f1': {
      if (!a.length || !n.length) return { threshold: unsupervised() };
      const b = bestF1([...n, ...a], [...n.map(() => 0), ...a.map(() => 1)]);
      return { threshold: b.threshold, f1: b.f1 };
    }
  }
}

/** Picks the map threshold with the best pixel F1 over labelled masks (subsampled pixels). */
function pixelThreshold(samples: { map: Float32Array; mask: Uint8Array }[]): number | undefined {
  const scores: number[] = [];
  const labels: number[] = [];
  for (const s of samples)
    for (let i = 0; i < s.map.length; i += 3) {
      scores.push(s.map[i] as number);
      labels.push(s.mask[i] ? 1 : 0);
    }
  if (!labels.some((l) => l)) return undefined;
  const b = bestF1(scores, labels);
  return Number.isFinite(b.threshold) ? b.threshold : undefined;
}

/** Trains a PatchCore model from normal images (plus labelled anomalies and masks, if any). */
export async function trainModel(
  images: readonly TrainingImage[],
  options: TrainOptions = {},
  onProgress: ProgressCallback = () => undefined,
): Promise<TrainedModel> {
  const started = performance.now();
  const pinned: Partial<EngineConfig> = options.config ?? {};
  let cfg: EngineConfig = { ...DEFAULT_CONFIG, ...pinned };
  const seed = options.seed ?? 1234;
  const threads = options.threads ?? 2;
  const policy = options.threshold ?? { mode: 'f1' };
  const normals = images.filter((i) => i.label === 'normal');
  const anomalies = images.filter((i) => i.label === 'anomaly');
  if (normals.length < 1) throw errors.badInput('training needs at least one normal image');
  const classes: MaskClass[] = options.classes?.length
    ? [...options.classes]
    : anomalies.some((a) => a.mask)
      ? [{ name: 'anomaly', color: '#FF0000' }]
      : [];

  const fraction = options.calibrationFraction ?? 0.2;
  const order = shuffled(
    normals.map((_, i) => i),
    seed,
  );
  const nCal = normals.length >= 5 ? Math.max(1, Math.round(normals.length * fraction)) : 0;
  const calIdx = new Set(order.slice(0, nCal));
  const bankImages = normals.filter((_, i) => !calIdx.has(i));
  const calNormals = normals.filter((_, i) => calIdx.has(i));

  const first = await probeImage((normals[0] as TrainingImage).bytes);
  const longSide = cfg.roi ? Math.max(cfg.roi.width, cfg.roi.height) : Math.max(first.width, first.height);
  if (!cfg.tiles) cfg = { ...cfg, tiles: autoTiles(longSide) };

  let selection: SelectionReport | undefined;
  const variable = candidateOverrides(pinned, 0).length > 1 || !('topK' in pinned);
  // The selection validates whole images at the network's scale; tiled models keep the defaults for now.
  if ((options.autoConfig ?? true) && normals.length >= 6 && variable && cfg.tiles <= 1 && !cfg.customBackbone) {
    const maskRadii: number[] = [];
    if (classes.length)
      for (const a of anomalies) {
        if (!a.mask) continue;
        const m = await probeImage(a.mask);
        const s = 256 / Math.max(m.width, m.height);
        const mw = Math.max(1, Math.round(m.width * s));
        const mh = Math.max(1, Math.round(m.height * s));
        const pixels = await decodeMask(a.mask, mw, mh, classes);
        let area = 0;
        for (const v of pixels) if (v) area++;
        // Equivalent radius as a fraction of the long side of what the network sees (the ROI, if any).
        const radius = Math.sqrt(area / Math.PI) / Math.max(mw, mh);
        if (area) maskRadii.push(radius * (Math.max(m.width, m.height) / longSide));
      }
    const s = await selectConfig({
      maskRadii,
      base: cfg,
      pinned,
      normals: normals.map((i) => i.bytes),
      anomalies: anomalies.map((i) => i.bytes),
      imageLongSide: longSide,
      seed,
      threads,
      ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
      budgetUnits:
        options.selectionBudget ??
        (options.selectionBudgetSeconds !== undefined
          ? options.selectionBudgetSeconds * UNITS_PER_SECOND
          : SELECTION_BUDGET_UNITS),
      onProgress: (f, message) => onProgress({ stage: 'selection', fraction: 0.6 * f, message }),
    });
    cfg = s.config;
    selection = s.report;
  }

  const opened = await openExtractor(
    cfg,
    bankImages.map((i) => i.bytes),
    { threads, ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}) },
  );
  const { fx } = opened;
  cfg = opened.config;
  // A custom backbone is recorded as validated: its file's sha256 and its layers' strides and widths.
  if (fx.info.custom) cfg = { ...cfg, customBackbone: fx.info.custom };
  try {
    const at = selection ? 0.6 : 0;
    // Only the patch features are kept (not the decoded network inputs: 3 MB per 512 px image).
    const bankMaps: FeatureMap[] = [];
    for (const [i, img] of bankImages.entries()) {
      for (const t of (await extract(fx, img.bytes, cfg)).tiles) bankMaps.push(t.features);
      onProgress({ stage: 'features', fraction: at + ((1 - at) * 0.4 * (i + 1)) / bankImages.length });
    }
    onProgress({ stage: 'coreset', fraction: at + (1 - at) * 0.45 });
    const bank = await buildBank(bankMaps, cfg, seed, threads);
    const b = bank;
    onProgress({ stage: 'calibration', fraction: at + (1 - at) * 0.7 });
    const scorer = await createScorer(bank.rows, bank.count, bank.dims, fx.info.stride, cfg, threads);
    const scoreOf = async (img: TrainingImage): Promise<{ score: number; a: AnalysedImage; ex: Extracted }> => {
      const ex = await extract(fx, img.bytes, cfg);
      const a = await analyse(scorer, ex);
      return { score: imageScore(a.result, a.features, b, cfg), a, ex };
    };
    const calSet = calNormals.length ? calNormals : bankImages;
    const pinnedWeight = options.sharpenWeight;
    const sharpenable = cfg.tiles <= 1 && !cfg.reweight && pinnedWeight !== 0 && anomalies.length > 0;
    let normalScores: number[] = [];
    // What sharpening needs of each calibration image: its patch distances and, for anomalies, defect patches.
    const normalPasses: ScoredForSharpening[] = [];
    const anomalyPasses: (ScoredAnomaly & { readonly sample?: number })[] = [];
    let normalMax = 0;
    for (const img of calSet) {
      const s = await scoreOf(img);
      normalScores.push(s.score);
      if (!sharpenable) continue;
      const { dist } = s.a.result;
      normalPasses.push({ bytes: img.bytes, distances: dist, h: s.ex.features.h, w: s.ex.features.w });
      for (const v of dist) normalMax = Math.max(normalMax, v);
    }
    const masked = classes.length > 0 && anomalies.some((a) => a.mask);
    let anomalyScores: number[] = [];
    const pixelSamples: { map: Float32Array; mask: Uint8Array }[] = [];
    const protoSum = new Float64Array(classes.length * bank.dims);
    const protoCount = new Float64Array(classes.length);
    for (const img of anomalies) {
      const s = await scoreOf(img);
      anomalyScores.push(s.score);
      let pixelMask: Uint8Array | undefined;
      let patchMask: Uint8Array | undefined;
      if (img.mask && classes.length) {
        const { map, mapW, mapH } = s.a.result;
        pixelMask = await decodeMask(img.mask, mapW, mapH, classes);
        pixelSamples.push({ map, mask: pixelMask });
        const add = (c: number, f: Float32Array, p: number): void => {
          if (!c) return;
          protoCount[c - 1] = (protoCount[c - 1] ?? 0) + 1;
          for (let k = 0; k < bank.dims; k++) {
            const j = (c - 1) * bank.dims + k;
            protoSum[j] = (protoSum[j] ?? 0) + (f[p * bank.dims + k] as number);
          }
        };
        if (s.ex.tiles.length === 1) {
          const f = s.ex.features;
          patchMask = await decodeMask(img.mask, f.w, f.h, classes);
          for (let p = 0; p < patchMask.length; p++) add(patchMask[p] as number, f.data, p);
        } else {
          // Each tile's patch takes the class of the stitched-map pixel under its centre.
          for (const t of s.a.placements) {
            const f = t.features;
            for (let py = 0; py < f.h; py++)
              for (let px = 0; px < f.w; px++) {
                const x = t.x + Math.min(t.w - 1, Math.floor(((px + 0.5) * t.w) / f.w));
                const y = t.y + Math.min(t.h - 1, Math.floor(((py + 0.5) * t.h) / f.h));
                add(pixelMask[y * mapW + x] as number, f.data, py * f.w + px);
              }
          }
        }
      }
      if (!sharpenable) continue;
      const f = s.ex.features;
      // With masks, only masked anomalies give defect patches; without, each anomaly's patches beyond normal.
      const rows = masked
        ? patchMask
          ? anomalyPatchRows(f, { patchMask })
          : new Float32Array(0)
        : anomalyPatchRows(f, { distances: s.a.result.dist, normalMax });
      anomalyPasses.push({
        bytes: img.bytes,
        distances: s.a.result.dist,
        h: f.h,
        w: f.w,
        rows,
        ...(pixelMask ? { pixelMask, sample: pixelSamples.length - 1 } : {}),
      });
    }
    let sharpening: FittedSharpening | undefined;
    try {
      if (sharpenable) {
        onProgress({ stage: 'calibration', fraction: at + (1 - at) * 0.8, message: 'sharpening with anomalies' });
        sharpening = await fitSharpening({
          fx,
          cfg,
          normalScorer: scorer,
          normals: normalPasses,
          anomalies: anomalyPasses,
          source: masked ? 'masks' : 'top-patches',
          seed,
          threads,
          ...(pinnedWeight !== undefined ? { pinnedWeight } : {}),
        });
      }
      const weight = sharpening?.report.weight ?? 0;
      if (weight && sharpening?.normalsKnown && sharpening.anomaliesKnown) {
        // Calibrate on the sharpened scores the model will give.
        const { normalsKnown, anomaliesKnown } = sharpening;
        const scoreWith = (d: Float32Array, known: Float32Array | undefined): Float32Array =>
          sharpenedDistances(d, known ?? d, weight);
        normalScores = normalPasses.map((n, i) => topKMean(scoreWith(n.distances, normalsKnown[i]), cfg.topK).mean);
        anomalyScores = [];
        for (const [i, a] of anomalyPasses.entries()) {
          const dist = scoreWith(a.distances, anomaliesKnown[i]);
          anomalyScores.push(topKMean(dist, cfg.topK).mean);
          if (a.sample !== undefined && a.pixelMask) {
            pixelSamples[a.sample] = { map: (await scorer.mapOf(dist, a.h, a.w)).map, mask: a.pixelMask };
          }
        }
      }
    } finally {
      await scorer.release();
    }
    const sharpenReport = sharpening?.report;
    const sharpenWeight = sharpenReport?.weight ?? 0;
    const sharpenedBank = sharpenWeight > 0 ? sharpening?.bank : undefined;
    const chosen = chooseThreshold(normalScores, anomalyScores, policy);
    const f1 = chosen.f1;
    let threshold = chosen.threshold;
    if (!calNormals.length && !anomalyScores.length) threshold *= 1.25; // bank images score optimistically low
    if (!Number.isFinite(threshold)) throw errors.internal('threshold calibration failed');
    const { std } = meanStd(normalScores);
    const scale = Math.max(std, Math.abs(threshold) * 0.05, 1e-6);
    const pixel = pixelThreshold(pixelSamples) ?? threshold;
    const prototypes = new Float32Array(classes.length * bank.dims);
    for (let c = 0; c < classes.length; c++)
      for (let k = 0; k < bank.dims; k++) {
        const n = protoCount[c] ?? 0;
        prototypes[c * bank.dims + k] = n ? (protoSum[c * bank.dims + k] as number) / n : 0;
      }
    const thresholdRecord = { image: threshold, pixel, scale, policy: JSON.stringify(policy) };
    const seconds = (performance.now() - started) / 1000;
    const artifact = writeArtifact(
      {
        format: 'vigil-anomaly-model',
        engineVersion: ENGINE_VERSION,
        createdAt: new Date().toISOString(),
        backbone: {
          digest: fx.info.digest,
          licence: licenceOf(cfg),
          channels: fx.info.channels,
          stride: fx.info.stride,
        },
        config: { ...cfg, backbones: [...cfg.backbones], layers: [...cfg.layers] },
        bank: { rows: bank.count, dims: bank.dims, dtype: 'float16' },
        threshold: thresholdRecord,
        classes,
        ...(sharpenedBank
          ? {
              sharpening: {
                weight: sharpenWeight,
                rows: sharpenedBank.count,
                source: sharpenReport?.source ?? 'masks',
              },
            }
          : {}),
        training: {
          normals: normals.length,
          anomalies: anomalies.length,
          calibrationNormals: calSet.length,
          calibrationF1: f1 ?? null,
          seconds,
          seed,
          ...(selection ? { selection } : {}),
          ...(sharpenReport ? { sharpening: sharpenReport } : {}),
        },
      },
      {
        bank: bank.half,
        neighbours: bank.neighbours,
        prototypes,
        ...(sharpenedBank ? { anomalyBank: sharpenedBank.half } : {}),
      },
    );
    onProgress({ stage: 'done', fraction: 1 });
    return {
      artifact,
      summary: {
        config: cfg,
        bankRows: bank.count,
        dims: bank.dims,
        threshold: thresholdRecord,
        calibration: { normals: calSet.length, anomalies: anomalies.length, ...(f1 !== undefined ? { f1 } : {}) },
        ...(selection ? { selection } : {}),
        ...(sharpenReport ? { sharpening: sharpenReport } : {}),
        seconds,
      },
    };
  } finally {
    await fx.release();
  }
}
