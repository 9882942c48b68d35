import { type FeatureExtractor, type FeatureMap } from './backbone/features';
import { type EngineConfig } from './config';
import { type NearestNeighbourScorer, type ScoreMapResult } from './kernels';
import { auroc } from './metrics';
import { buildBank, createScorer, extract, topKMean, type Bank } from './patchcore';
import { shuffled } from './random';

/**
 * Sharpening with labelled anomalies (Method 3b). PatchCore alone asks only "how far is this patch from every
 * normal patch?". When the training set has labelled anomalies, the engine also keeps their defect patches
 * (an anomaly bank) and raises the score of a patch that is closer to a known defect than to normal:
 *
 *   score = d_normal + weight · max(0, d_normal − d_anomaly)
 *
 * The max(0, ·) means a patch is never scored lower than PatchCore scores it, so a defect of a kind never seen
 * in training is found exactly as well as before; only patches that look like known defects gain. The weight
 * (0 = off) is chosen by two-fold cross-validation on held-out normals and labelled anomalies.
 */

/** Weights tried by the cross-validation, besides 0 (off). */
export const SHARPEN_WEIGHTS = [0.5, 1, 2, 4] as const;
/** An objective gain below this keeps sharpening off (no change for noise). */
export const SHARPEN_MIN_GAIN = 0.005;
/** Most rows kept in the anomaly bank (a coreset of the defect patches beyond it). */
export const ANOMALY_BANK_MAX_ROWS = 4000;
/** Without masks: at most this fraction of an anomaly's patches (those beyond every normal patch) are kept. */
export const UNMASKED_PATCH_FRACTION = 0.05;
/** Labelled anomalies with defect patches needed before the weight is cross-validated (two per fold). */
export const MIN_SHARPEN_ANOMALIES = 4;

export interface Sharpening {
  readonly weight: number;
  /** Where the anomaly bank's rows came from. */
  readonly source: 'masks' | 'top-patches';
}

/** The sharpened patch scores (a new array; inputs unchanged). */
export function sharpenedDistances(normal: Float32Array, anomaly: Float32Array, weight: number): Float32Array {
  const out = new Float32Array(normal.length);
  for (let i = 0; i < out.length; i++) {
    const dn = normal[i] as number;
    const gap = dn - (anomaly[i] as number);
    out[i] = gap > 0 ? dn + weight * gap : dn;
  }
  return out;
}

/**
 * Rows of an anomaly's feature map that go into the anomaly bank: the patches under its defect mask, or,
 * without a mask, its patches scoring beyond every normal patch (at most `UNMASKED_PATCH_FRACTION` of them, the
 * highest first). Returns [rows, dims] (possibly empty).
 */
export function anomalyPatchRows(
  features: FeatureMap,
  evidence: { readonly patchMask: Uint8Array } | { readonly distances: Float32Array; readonly normalMax: number },
): Float32Array {
  const d = features.channels;
  const n = features.h * features.w;
  let picked: number[];
  if ('patchMask' in evidence) {
    picked = [];
    for (let p = 0; p < n; p++) if (evidence.patchMask[p]) picked.push(p);
  } else {
    const limit = Math.max(1, Math.floor(n * UNMASKED_PATCH_FRACTION));
    picked = Array.from({ length: n }, (_, p) => p)
      .filter((p) => (evidence.distances[p] as number) > evidence.normalMax)
      .sort((a, b) => (evidence.distances[b] as number) - (evidence.distances[a] as number) || a - b)
      .slice(0, limit);
  }
  const rows = new Float32Array(picked.length * d);
  picked.forEach((p, i) => rows.set(features.data.subarray(p * d, (p + 1) * d), i * d));
  return rows;
}

/** Scores patches against the normal bank and, sharpened, against the anomaly bank; maps like the normal one. */
export class SharpenedScorer {
  constructor(
    private readonly normal: NearestNeighbourScorer,
    private readonly anomaly: NearestNeighbourScorer,
    readonly weight: number,
  ) {}

  async score(features: Float32Array, h: number, w: number): Promise<ScoreMapResult> {
    const [near, known] = await Promise.all([
      this.normal.nearestRows(features, h * w),
      this.anomaly.nearestRows(features, h * w),
    ]);
    const dist = sharpenedDistances(near.dist, known.dist, this.weight);
    const { map, mapH, mapW } = await this.normal.mapOf(dist, h, w);
    return { dist, index: near.index, map, mapH, mapW };
  }

  async release(): Promise<void> {
    await Promise.all([this.normal.release(), this.anomaly.release()]);
  }
}

/** One held-out image of the cross-validation, scored against the normal bank and each fold's anomaly bank. */
export interface HeldOutImage {
  readonly label: 0 | 1;
  /** Anomalies: the fold they are held out of (their distances came from the other fold's bank). Normals: -1. */
  readonly fold: number;
  readonly normal: Float32Array;
  /** Distance to the nearest anomaly-bank row, per fold (normals) or for the image's own fold (anomalies). */
  readonly anomaly: readonly Float32Array[];
  readonly h: number;
  readonly w: number;
  /** Defect mask at the map's resolution (anomalies with masks). */
  readonly pixelMask?: Uint8Array;
}

export interface SharpenCandidate {
  readonly weight: number;
  readonly objective: number;
  readonly foldObjectives: readonly number[];
}

export interface SharpenReport {
  readonly weight: number;
  readonly candidates: readonly SharpenCandidate[];
  readonly rows: number;
  readonly source: Sharpening['source'];
}

/**
 * Chooses the weight by two-fold cross-validation: in each fold the held-out anomalies were scored against the
 * other fold's defect patches, and the held-out normals against the same bank. The objective per fold is the
 * image AUROC, averaged with the pixel AUROC where there are masks (normals' pixels count as normal); the
 * weight with the best mean objective wins if it beats "off" by `SHARPEN_MIN_GAIN`, the smallest on a tie.
 */
export async function chooseSharpenWeight(
  images: readonly HeldOutImage[],
  folds: number,
  imageScoreOf: (dist: Float32Array) => number,
  mapOf: (dist: Float32Array, h: number, w: number) => Promise<Float32Array>,
): Promise<{ weight: number; candidates: SharpenCandidate[] }> {
  const candidates: SharpenCandidate[] = [];
  for (const weight of [0, ...SHARPEN_WEIGHTS]) {
    const foldObjectives: number[] = [];
    for (let k = 0; k < folds; k++) {
      const members = images.filter((i) => i.fold === k || i.fold < 0);
      const scores: number[] = [];
      const labels: number[] = [];
      const pixels: number[] = [];
      const pixelLabels: number[] = [];
      const masked = members.some((m) => m.pixelMask);
      for (const m of members) {
        const da = m.fold < 0 ? m.anomaly[k] : m.anomaly[0];
        if (!da) continue;
        const dist = weight ? sharpenedDistances(m.normal, da, weight) : m.normal;
        scores.push(imageScoreOf(dist));
        labels.push(m.label);
        if (!masked || (m.label === 1 && !m.pixelMask)) continue;
        const map = await mapOf(dist, m.h, m.w);
        for (let i = 0; i < map.length; i += 3) {
          pixels.push(map[i] as number);
          pixelLabels.push(m.pixelMask?.[i] ? 1 : 0);
        }
      }
      if (!labels.includes(0) || !labels.includes(1)) continue;
      const image = auroc(scores, labels);
      foldObjectives.push(pixelLabels.includes(1) ? (image + auroc(pixels, pixelLabels)) / 2 : image);
    }
    const objective = foldObjectives.length
      ? foldObjectives.reduce((a, b) => a + b, 0) / foldObjectives.length
      : Number.NaN;
    candidates.push({ weight, objective, foldObjectives });
  }
  const off = candidates[0]?.objective ?? Number.NaN;
  let best = { weight: 0, objective: off };
  for (const c of candidates.slice(1))
    if (c.objective > best.objective && c.objective >= off + SHARPEN_MIN_GAIN) best = c;
  return { weight: Number.isFinite(off) ? best.weight : 0, candidates };
}

/** A calibration image as training scored it against the normal bank. */
export interface ScoredForSharpening {
  readonly bytes: Uint8Array;
  /** Patch distances to the normal bank, [h*w]. */
  readonly distances: Float32Array;
  /** The patch grid. */
  readonly h: number;
  readonly w: number;
}

export interface ScoredAnomaly extends ScoredForSharpening {
  /** Its defect patches (`anomalyPatchRows`), [rows, dims]; empty when it has none. */
  readonly rows: Float32Array;
  /** Defect mask at the anomaly map's resolution, when the anomaly has one. */
  readonly pixelMask?: Uint8Array;
}

export interface FittedSharpening {
  readonly report: SharpenReport;
  /** With a weight > 0: the anomaly bank. */
  readonly bank?: Bank;
  /** Each calibration normal's patch distances to the anomaly bank (input order). */
  readonly normalsKnown?: readonly Float32Array[];
  /**
   * Each anomaly's distances to the defect patches of the other fold (input order), never to its own: scored
   * against its own patches an anomaly would calibrate the threshold far too high. Undefined where there is no
   * other fold (its unsharpened score is then used, a lower bound).
   */
  readonly anomaliesKnown?: readonly (Float32Array | undefined)[];
}

/**
 * Fits sharpening for an untiled model: builds the anomaly bank from the anomalies' defect patches, and unless
 * `pinnedWeight` is given, cross-validates the weight on two folds of the anomalies (each fold scored against
 * the other fold's patches) with the held-out normals. Returns undefined when there is too little to fit.
 */
export async function fitSharpening(args: {
  readonly fx: FeatureExtractor;
  readonly cfg: EngineConfig;
  readonly normalScorer: NearestNeighbourScorer;
  readonly normals: readonly ScoredForSharpening[];
  readonly anomalies: readonly ScoredAnomaly[];
  readonly source: Sharpening['source'];
  readonly seed: number;
  readonly threads: number;
  readonly pinnedWeight?: number;
}): Promise<FittedSharpening | undefined> {
  const { fx, cfg, normalScorer, normals, anomalies, seed, threads } = args;
  const d = fx.info.channels;
  const withRows = anomalies.filter((a) => a.rows.length);
  const pinned = args.pinnedWeight;
  if (pinned !== undefined ? !withRows.length : withRows.length < MIN_SHARPEN_ANOMALIES || normals.length < 2) {
    return undefined;
  }
  const bankOf = async (parts: readonly Float32Array[]): Promise<Bank> => {
    const total = parts.reduce((t, p) => t + p.length, 0);
    const data = new Float32Array(total);
    let o = 0;
    for (const p of parts) {
      data.set(p, o);
      o += p.length;
    }
    const bankCfg = { ...cfg, coresetRatio: 1, maxBankSize: ANOMALY_BANK_MAX_ROWS, reweight: false };
    return buildBank([{ data, h: total / d, w: 1, channels: d }], bankCfg, seed ^ 0xa40, threads);
  };
  const scorerOf = async (bank: Bank): Promise<NearestNeighbourScorer> =>
    createScorer(bank.rows, bank.count, d, fx.info.stride, cfg, threads);
  const full = await bankOf(withRows.map((a) => a.rows));
  const scorers: NearestNeighbourScorer[] = [await scorerOf(full)];
  try {
    const [fullScorer] = scorers as [NearestNeighbourScorer];
    // Two folds of the anomalies; fold k's bank holds the other fold's defect patches.
    const foldOf = new Map<number, number>();
    shuffled(
      anomalies.map((_, i) => i),
      seed ^ 0xf01d,
    ).forEach((i, rank) => foldOf.set(i, rank % 2));
    const foldParts = [0, 1].map((k) =>
      anomalies.filter((a, i) => foldOf.get(i) !== k && a.rows.length).map((a) => a.rows),
    );
    // Each fold needs defect patches in the other one (to validate, and to calibrate the anomalies honestly).
    const folded = foldParts.every((p) => p.length > 0);
    if (pinned === undefined && !folded) return undefined;
    const foldScorers: NearestNeighbourScorer[] = [];
    if (folded)
      for (const parts of foldParts) {
        const s = await scorerOf(await bankOf(parts));
        scorers.push(s);
        foldScorers.push(s);
      }
    /**
     * The image's patches' distances to each bank given. Features are extracted again rather than kept from the
     * calibration pass: at 512 px with both networks they are ~4 MB an image, for every calibration image.
     */
    const known = async (bytes: Uint8Array, against: readonly NearestNeighbourScorer[]): Promise<Float32Array[]> => {
      const f = (await extract(fx, bytes, cfg)).features;
      const dists: Float32Array[] = [];
      for (const s of against) dists.push((await s.nearestRows(f.data, f.h * f.w)).dist);
      return dists;
    };
    const held: HeldOutImage[] = [];
    const normalsKnown: Float32Array[] = [];
    const anomaliesKnown: (Float32Array | undefined)[] = [];
    for (const n of normals) {
      const [all, ...perFold] = await known(n.bytes, [fullScorer, ...foldScorers]);
      normalsKnown.push(all as Float32Array); // normals are in no fold's bank: the full bank is as at detection
      held.push({ label: 0, fold: -1, normal: n.distances, anomaly: perFold, h: n.h, w: n.w });
    }
    for (const [i, a] of anomalies.entries()) {
      const fold = foldOf.get(i) ?? 0;
      const own = foldScorers[fold];
      const mine = own ? (await known(a.bytes, [own]))[0] : undefined;
      anomaliesKnown.push(mine);
      held.push({
        label: 1,
        fold,
        normal: a.distances,
        anomaly: mine ? [mine] : [],
        h: a.h,
        w: a.w,
        ...(a.pixelMask ? { pixelMask: a.pixelMask } : {}),
      });
    }
    const chosen =
      pinned === undefined
        ? await chooseSharpenWeight(
            held,
            2,
            (dist) => topKMean(dist, cfg.topK).mean,
            async (dist, h, w) => (await normalScorer.mapOf(dist, h, w)).map,
          )
        : { weight: pinned ?? 0, candidates: [] };
    const report: SharpenReport = {
      weight: chosen.weight,
      candidates: chosen.candidates,
      rows: full.count,
      source: args.source,
    };
    if (!chosen.weight) return { report };
    return { report, bank: full, normalsKnown, anomaliesKnown };
  } finally {
    await Promise.all(scorers.map((s) => s.release()));
  }
}
