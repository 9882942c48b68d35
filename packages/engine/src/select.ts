import { type FeatureMap } from './backbone/features';
import { type EngineConfig } from './config';
import { defectScale, drawDefect, randomDefects, type DefectScale } from './defects';
import { auroc } from './metrics';
import { buildBank, createScorer, imageScore, openExtractor, preprocessOptions, type Bank } from './patchcore';
import { prepareImage, type PreparedImage } from './preprocess';
import { shuffled } from './random';

/** One setting tried by the automatic configuration, with what it scored on the validation set. */
export interface CandidateReport {
  /** The settings that differ from the defaults (plus the image-score top-k). */
  readonly settings: Partial<EngineConfig>;
  /** Held-out normals vs synthetic defects (mean over the two folds). */
  readonly imageAuroc: number;
  /** Pixel AUROC of the synthetic defects' masks. */
  readonly pixelAuroc: number;
  /** Held-out normals vs the labelled anomalies, when there are any. */
  readonly realAnomalyAuroc?: number;
  /** Mean of the above, real anomalies counted twice (mean over the two folds). */
  readonly objective: number;
  /** The objective on each fold (paired comparisons use these). */
  readonly foldObjectives: readonly number[];
  readonly seconds: number;
  /** Work units this candidate was charged against the budget (see `candidateUnits`). */
  readonly units: number;
}

export interface SelectionReport {
  readonly chosen: Partial<EngineConfig>;
  readonly candidates: readonly CandidateReport[];
  /** Two-fold cross-fitting over the normals: each is scored once, against a bank from the other fold. */
  readonly validation: {
    readonly normals: number;
    readonly synthetic: number;
    readonly anomalies: number;
    /** Synthetic defect geometry multiplier and where it came from. */
    readonly defectSize: number;
    readonly defectSizeFrom: 'masks' | 'image';
    /** Brightness-change multiplier of the shading defects, and how often they were weakened (saturation). */
    readonly defectContrast: number;
    readonly weakened: number;
  };
  readonly seconds: number;
  /** The budget and what was spent, in work units: deterministic, independent of the machine and its load. */
  readonly budgetUnits: number;
  readonly spentUnits: number;
  /** Candidates skipped because the budget ran out. */
  readonly skipped: number;
}

type Override = Partial<Pick<EngineConfig, 'backbones' | 'layers' | 'aggregation' | 'inputSize'>>;

/** The input size that keeps an image's own resolution (up to 512 px), rounded to 32; 0 if no larger than `base`. */
export function nativeInputSize(imageLongSide: number, base: number): number {
  const native = Math.min(512, Math.round(imageLongSide / 32) * 32);
  return native >= base * 1.25 ? native : 0;
}

/**
 * The feature settings tried, by expected value: the default; the image's own resolution (up to 512 px), the
 * biggest single lever measured for small defects in larger images (no intermediate size: 384 px was never
 * the best image AUROC in the measurements and its validation ranked it above 512 px where the test did
 * not); both bundled networks at the best size found so far (`selectConfig` carries the size over); the wide field of view
 * (224 px + 5×5 + the deeper layer) for small images and texture crops, skipped when a larger input already won.
 */
export function candidateOverrides(pinned: Partial<EngineConfig>, imageLongSide: number, base = 256): Override[] {
  const all: Override[] = [{}];
  const native = nativeInputSize(imageLongSide, base);
  if (native) all.push({ inputSize: native });
  all.push({ backbones: ['mnv2-mid', 'mnv2-keras'] });
  all.push({ inputSize: 224, aggregation: 5, layers: ['mid', 'deep', 'deeper'] });
  const seen = new Set<string>();
  const out: Override[] = [];
  for (const o of all) {
    const kept = Object.fromEntries(Object.entries(o).filter(([k]) => !(k in pinned))) as Override;
    const key = JSON.stringify(kept);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(kept);
  }
  return out;
}

/** Smallest mean per-fold gain a candidate needs over the incumbent, on top of beating the fold spread. */
export const MIN_GAIN = 0.005;

/**
 * Whether a candidate's per-fold objectives beat the incumbent's: the mean paired gain must exceed both
 * `MIN_GAIN` and the fold-to-fold spread of the gain (its standard deviation over the folds; with two folds,
 * |d₀ − d₁| / 2, i.e. every fold must improve), so a win that one fold contradicts or that is within the
 * folds' noise keeps the incumbent (the default first of all).
 */
export function beats(candidate: readonly number[], incumbent: readonly number[]): boolean {
  const d = candidate.map((c, i) => c - (incumbent[i] ?? 0));
  if (!d.length) return false;
  const gain = d.reduce((a, b) => a + b, 0) / d.length;
  const spread = Math.sqrt(d.reduce((a, b) => a + (b - gain) ** 2, 0) / d.length);
  return gain > Math.max(MIN_GAIN, spread);
}

export const TOPK_CHOICES = [5, 1, 3, 10] as const;

/** Input size whose image costs one work unit. */
export const UNIT_INPUT_SIZE = 256;

/**
 * Work units of one image through a candidate: the network's work grows with the square of the input size
 * and the nearest-neighbour search with queries x bank rows, together close to the cube (measured: a 512 px
 * candidate costs 5-7x a 256 px one), and each extra network adds ~30% (both networks cost 1.2-1.25x one).
 * A unit is ~15 ms of one candidate's validation on the reference 2-core machine.
 */
export function imageUnits(cfg: Pick<EngineConfig, 'inputSize' | 'backbones'>): number {
  return (cfg.inputSize / UNIT_INPUT_SIZE) ** 3 * (1 + 0.3 * Math.max(0, cfg.backbones.length - 1));
}

/**
 * Work units of a candidate's two-fold validation: every fold's bank images, its held-out normals with their
 * synthetic defects, and the labelled anomalies, each at `imageUnits`. A pure function of the data's shape,
 * so the same images always try the same candidates, whatever the machine's speed or load.
 */
export function candidateUnits(
  cfg: Pick<EngineConfig, 'inputSize' | 'backbones'>,
  folds: readonly (readonly number[])[],
  anomalies: number,
  defectsPerNormal: number,
): number {
  let images = 0;
  for (const [f, fold] of folds.entries()) {
    const other = folds[1 - f] ?? [];
    if (!fold.length || !other.length) continue;
    images += fold.length + other.length * (1 + defectsPerNormal) + anomalies;
  }
  return images * imageUnits(cfg);
}

/** Default budget: the full candidate list for 40 normals of 512 px images (~3400 units, ~50 s here) fits. */
export const SELECTION_BUDGET_UNITS = 4000;

interface SelectArgs {
  readonly base: EngineConfig;
  readonly pinned: Partial<EngineConfig>;
  /** All normal training images; the choice cross-fits two folds of them. */
  readonly normals: readonly Uint8Array[];
  readonly anomalies: readonly Uint8Array[];
  readonly imageLongSide: number;
  readonly seed: number;
  readonly threads: number;
  readonly cacheDir?: string;
  /** Work units the choice may spend (see `candidateUnits`); candidates that would overrun it are skipped. */
  readonly budgetUnits: number;
  /** Equivalent radii of the labelled anomalies' masks, fractions of the long side (sizes the synthetic defects). */
  readonly maskRadii?: readonly number[];
  /** Synthetic defects drawn into each validation normal (default 2, cycling through the kinds). */
  readonly defectsPerNormal?: number;
  readonly onProgress?: (fraction: number, message: string) => void;
}

/** A decoded network input kept as bytes (a quarter of the floats' memory); floats are rebuilt exactly. */
interface Compact {
  readonly u8: Uint8Array;
  readonly p: Omit<PreparedImage, 'tensor'>;
}

function compact(p: PreparedImage): Compact {
  const u8 = new Uint8Array(p.tensor.length);
  for (let i = 0; i < u8.length; i++) u8[i] = Math.round((p.tensor[i] as number) * 255);
  const { tensor: _drop, ...rest } = p;
  return { u8, p: rest };
}

/** Rebuilds the floats into `scratch` when it has the right size (one buffer per input size, reused). */
function expand(c: Compact, scratch?: Float32Array): PreparedImage {
  const tensor = scratch?.length === c.u8.length ? scratch : new Float32Array(c.u8.length);
  const inv = 1 / 255;
  for (let i = 0; i < tensor.length; i++) tensor[i] = (c.u8[i] as number) * inv;
  return { ...c.p, tensor };
}

/** Mean AUROC over folds, skipping folds without both classes. */
function meanAuroc(parts: { scores: number[]; labels: number[] }[]): number {
  const v = parts
    .filter((p) => p.labels.some((l) => l) && p.labels.some((l) => !l))
    .map((p) => auroc(p.scores, p.labels));
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0.5;
}

/**
 * Normals used by the selection (two folds of at most 12): its cost is then flat in the data set's size, and a
 * 100-image project at 256 px trains in ~15 s in all. With 40 (folds of 20) it took ~27 s and chose the same
 * settings on the synthetic tiles, grid and cast sets (512 px, with both networks on tiles and grid).
 */
export const MAX_VALIDATION_NORMALS = 24;

/** Synthetic image AUROC at or above which the synthetic defects are weakened (see `selectConfig`). */
export const SATURATED = 0.98;

function synthImageAuroc(
  perFold: { scored: { dist: Float32Array; index: Int32Array; features: FeatureMap; label: number }[]; bank: Bank }[],
  cfg: EngineConfig,
): number {
  return meanAuroc(
    perFold.map(({ scored, bank }) => {
      const kept = scored.filter((d) => d.label !== 2);
      return {
        scores: kept.map((d) =>
          imageScore({ ...d, map: new Float32Array(0), mapH: 0, mapW: 0 }, d.features, bank, cfg),
        ),
        labels: kept.map((d) => d.label),
      };
    }),
  );
}

/**
 * Tries each candidate with two-fold cross-fitting over the normal images: a memory bank from one fold scores
 * the other fold's normals, synthetic defects drawn into them, and the labelled anomalies; then the other way
 * round. The objective is computed per fold; a candidate replaces the incumbent (the default first) only if
 * it wins on the paired folds by more than their spread (`beats`).
 */
export async function selectConfig(args: SelectArgs): Promise<{ config: EngineConfig; report: SelectionReport }> {
  const started = performance.now();
  const overrides = candidateOverrides(args.pinned, args.imageLongSide, args.base.inputSize);
  const topKs = 'topK' in args.pinned ? [args.base.topK] : [...TOPK_CHOICES];
  const perNormal = args.defectsPerNormal ?? 2;
  let scale: DefectScale = defectScale(args.imageLongSide, args.maskRadii);
  let weakened = 0;
  // A seeded subset of at most MAX_VALIDATION_NORMALS keeps the cost flat in the number of images.
  const order = shuffled(
    args.normals.map((_, i) => i),
    args.seed ^ 0xf01d,
  ).slice(0, MAX_VALIDATION_NORMALS);
  const folds = [order.filter((_, k) => k % 2 === 0), order.filter((_, k) => k % 2 === 1)];
  const cache = new Map<string, Compact>();
  const scratches = new Map<number, Float32Array>();
  const prepared = async (
    bytes: Uint8Array,
    key: string,
    cfg: EngineConfig,
    multiple: number,
  ): Promise<PreparedImage> => {
    const k = `${key}:${cfg.inputSize}:${multiple}`;
    let c = cache.get(k);
    if (!c) {
      const p = await prepareImage(bytes, preprocessOptions(cfg, multiple));
      c = compact(p);
      cache.set(k, c);
      return p;
    }
    // One float buffer per input size: each expanded image is used (run, defects drawn from it) before the next.
    let scratch = scratches.get(cfg.inputSize);
    if (scratch?.length !== c.u8.length) scratches.set(cfg.inputSize, (scratch = new Float32Array(c.u8.length)));
    return expand(c, scratch);
  };
  const reports: CandidateReport[] = [];
  let best: { objective: number; folds: number[]; config: EngineConfig; settings: Partial<EngineConfig> } | undefined;
  let skipped = 0;
  let spent = 0;
  for (let ci = 0; ci < overrides.length; ci++) {
    const o0 = overrides[ci] as Override;
    const bestSize = best?.config.inputSize ?? args.base.inputSize;
    let o: Override = o0;
    if (o.backbones && !('inputSize' in o) && !('inputSize' in args.pinned) && bestSize !== args.base.inputSize)
      o = { ...o, inputSize: bestSize }; // both networks at the size that won
    // The wide field of view is for small images / texture crops: not worth trying once a larger input won.
    if (o.aggregation && bestSize > args.base.inputSize) continue;
    const candidate: EngineConfig = { ...args.base, ...o };
    // Work units, not seconds: the choice must not depend on how busy the machine is (the first always runs).
    const units = candidateUnits(candidate, folds, args.anomalies.length, perNormal);
    if (best && spent + units > args.budgetUnits) {
      skipped++;
      continue;
    }
    spent += units;
    const t0 = performance.now();
    // Decoded inputs of the other sizes are dropped, except the best so far's (ensembles reuse them).
    for (const key of [...cache.keys()]) {
      const size = Number(key.split(':')[1]);
      if (size !== candidate.inputSize && size !== bestSize) cache.delete(key);
    }
    // The candidate as it would be trained: an int8 network measures its activation ranges on these normals.
    const { fx, config: cfg } = await openExtractor(candidate, args.normals, {
      threads: args.threads,
      ...(args.cacheDir ? { cacheDir: args.cacheDir } : {}),
    });
    try {
      const multiple = fx.info.sizeMultiple;
      type Scored = { dist: Float32Array; index: Int32Array; features: FeatureMap; label: number };
      const perFold: { scored: Scored[]; bank: Bank; pixelAuroc: number }[] = [];
      for (const [f, fold] of folds.entries()) {
        const other = folds[1 - f] as number[];
        if (!fold.length || !other.length) continue;
        const maps: FeatureMap[] = [];
        for (const i of fold) {
          const p = await prepared(args.normals[i] as Uint8Array, `n${i}`, cfg, multiple);
          maps.push(await fx.run(p.tensor, p.netH, p.netW));
        }
        const bank = await buildBank(maps, cfg, args.seed, args.threads);
        maps.length = 0;
        const scorer = await createScorer(bank.rows, bank.count, bank.dims, fx.info.stride, cfg, args.threads);
        const scored: Scored[] = [];
        // Every third map pixel, as typed chunks (a 512 px fold has ~2 M: 4 + 1 bytes each, not boxed arrays).
        const pixParts: { s: Float32Array; l: Uint8Array }[] = [];
        try {
          const run = async (
            tensor: Float32Array,
            p: PreparedImage,
            label: number,
            mask?: Uint8Array,
          ): Promise<void> => {
            const features = await fx.run(tensor, p.netH, p.netW);
            const r = await scorer.score(features.data, features.h, features.w);
            // Patch features are only needed for PatchCore's reweighting; dropping them keeps the selection's
            // memory small (60 feature maps of a 512 px input per fold would be ~360 MB).
            const kept = cfg.reweight ? features : { ...features, data: new Float32Array(0) };
            scored.push({ dist: r.dist, index: r.index, features: kept, label });
            if (label === 2) return; // real anomalies: no pixel truth here
            const count = Math.ceil(r.map.length / 3);
            const s = new Float32Array(count);
            const l = new Uint8Array(count);
            for (let i = 0, k = 0; i < r.map.length; i += 3, k++) {
              s[k] = r.map[i] as number;
              l[k] = mask ? (mask[i] as number) : 0;
            }
            pixParts.push({ s, l });
          };
          for (const j of other) {
            const p = await prepared(args.normals[j] as Uint8Array, `n${j}`, cfg, multiple);
            await run(p.tensor, p, 0);
            for (const d of randomDefects(perNormal, args.seed + 7919 * j, { w: p.netW, h: p.netH }, scale)) {
              const drawn = drawDefect(p.tensor, p.netW, p.netH, d);
              await run(drawn.tensor, p, 1, drawn.mask);
            }
          }
          for (const [j, b] of args.anomalies.entries()) {
            const p = await prepared(b, `a${j}`, cfg, multiple);
            await run(p.tensor, p, 2);
          }
        } finally {
          await scorer.release();
        }
        const total = pixParts.reduce((t, x) => t + x.s.length, 0);
        const pixScores = new Float32Array(total);
        const pixLabels = new Uint8Array(total);
        for (let o = 0; pixParts.length;) {
          const x = pixParts.shift() as { s: Float32Array; l: Uint8Array };
          pixScores.set(x.s, o);
          pixLabels.set(x.l, o);
          o += x.s.length;
        }
        perFold.push({ scored, bank, pixelAuroc: pixLabels.some((l) => l) ? auroc(pixScores, pixLabels) : 0.5 });
      }
      const seconds = (performance.now() - t0) / 1000;
      // Saturated validation ranks nothing: when the default already separates the synthetic defects (almost)
      // perfectly, they are made smaller and fainter and the default is scored again (at most twice).
      if (ci === 0 && weakened < 2 && synthImageAuroc(perFold, cfg) >= SATURATED) {
        weakened++;
        scale = { size: scale.size * 0.6, contrast: (scale.contrast ?? 1) * 0.6 };
        ci--;
        continue;
      }
      for (const topK of topKs) {
        const c = { ...cfg, topK };
        const foldStats = perFold.map(({ scored, bank, pixelAuroc }) => {
          const scores = scored.map((d) =>
            imageScore({ ...d, map: new Float32Array(0), mapH: 0, mapW: 0 }, d.features, bank, c),
          );
          const labels = scored.map((d) => d.label);
          const versus = (kind: number): number => {
            const keep = labels.map((l) => l === 0 || l === kind);
            return meanAuroc([
              {
                scores: scores.filter((_, i) => keep[i]),
                labels: labels.filter((_, i) => keep[i]).map((l) => (l ? 1 : 0)),
              },
            ]);
          };
          const image = versus(1);
          const real = args.anomalies.length ? versus(2) : undefined;
          // Real labelled defects are the best evidence of the product's defect sizes: they weigh double.
          const objective = real === undefined ? (image + pixelAuroc) / 2 : (image + pixelAuroc + 2 * real) / 4;
          return { image, pixel: pixelAuroc, real, objective };
        });
        const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0.5);
        const imageAuroc = mean(foldStats.map((f) => f.image));
        const pixelAuroc = mean(foldStats.map((f) => f.pixel));
        const realAuroc = args.anomalies.length ? mean(foldStats.map((f) => f.real ?? 0.5)) : undefined;
        const foldObjectives = foldStats.map((f) => f.objective);
        const objective = mean(foldObjectives);
        const settings: Partial<EngineConfig> = { ...o, ...(topKs.length > 1 ? { topK } : {}) };
        reports.push({
          settings,
          imageAuroc,
          pixelAuroc,
          ...(realAuroc !== undefined ? { realAnomalyAuroc: realAuroc } : {}),
          objective,
          foldObjectives,
          seconds,
          units,
        });
        if (!best || beats(foldObjectives, best.folds))
          best = { objective, folds: foldObjectives, config: c, settings };
      }
    } finally {
      await fx.release();
    }
    args.onProgress?.((ci + 1) / overrides.length, `candidate ${ci + 1}/${overrides.length}`);
  }
  if (!best) throw new Error('no candidate configuration could be evaluated');
  return {
    config: best.config,
    report: {
      chosen: best.settings,
      candidates: reports,
      validation: {
        normals: order.length,
        synthetic: order.length * perNormal,
        anomalies: args.anomalies.length,
        defectSize: scale.size,
        defectContrast: scale.contrast ?? 1,
        weakened,
        defectSizeFrom: args.maskRadii?.some((r) => r > 0) ? 'masks' : 'image',
      },
      seconds: (performance.now() - started) / 1000,
      budgetUnits: args.budgetUnits,
      spentUnits: spent,
      skipped,
    },
  };
}
