import { FeatureExtractor, type FeatureMap } from './backbone/features';
import { type EngineConfig } from './config';
import { drawDefect, randomDefects } from './defects';
import { auroc } from './metrics';
import { buildBank, createScorer, featureSpecOf, imageScore, type Bank } from './patchcore';
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
  /** Mean of the above, real anomalies counted twice. */
  readonly objective: number;
  readonly seconds: number;
}

export interface SelectionReport {
  readonly chosen: Partial<EngineConfig>;
  readonly candidates: readonly CandidateReport[];
  /** Two-fold cross-fitting over the normals: each is scored once, against a bank from the other fold. */
  readonly validation: { readonly normals: number; readonly synthetic: number; readonly anomalies: number };
  readonly seconds: number;
  readonly budgetSeconds: number;
  /** Candidates skipped because the budget ran out. */
  readonly skipped: number;
}

type Override = Partial<Pick<EngineConfig, 'backbones' | 'layers' | 'aggregation' | 'inputSize'>>;

/**
 * The feature settings tried, cheapest and most general first. What decides is the patch's field of view
 * relative to the defect: wider aggregation plus a deeper layer on a smaller input for texture crops, a larger
 * input for large parts with small defects, both bundled networks for objects.
 */
export function candidateOverrides(pinned: Partial<EngineConfig>, imageLongSide: number): Override[] {
  const all: Override[] = [
    {},
    { backbones: ['mnv2-mid', 'mnv2-keras'] },
    { inputSize: 224, aggregation: 5, layers: ['mid', 'deep', 'deeper'] },
  ];
  if (imageLongSide >= 400) all.push({ inputSize: 384 });
  if (imageLongSide >= 600) all.push({ inputSize: 512 });
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

export const TOPK_CHOICES = [5, 1, 3, 10] as const;

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
  readonly budgetSeconds: number;
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

function expand(c: Compact): PreparedImage {
  const tensor = new Float32Array(c.u8.length);
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
 * Tries each candidate with two-fold cross-fitting over the normal images: a memory bank from one fold scores
 * the other fold's normals, synthetic defects drawn into them, and the labelled anomalies; then the other way
 * round. Image AUROC and pixel AUROC (synthetic masks) are averaged over the folds.
 */
export async function selectConfig(args: SelectArgs): Promise<{ config: EngineConfig; report: SelectionReport }> {
  const started = performance.now();
  const overrides = candidateOverrides(args.pinned, args.imageLongSide);
  const topKs = 'topK' in args.pinned ? [args.base.topK] : [...TOPK_CHOICES];
  const perNormal = args.defectsPerNormal ?? 2;
  const order = shuffled(
    args.normals.map((_, i) => i),
    args.seed ^ 0xf01d,
  );
  const folds = [order.filter((_, k) => k % 2 === 0), order.filter((_, k) => k % 2 === 1)];
  const cache = new Map<string, Compact>();
  const prepared = async (
    bytes: Uint8Array,
    key: string,
    cfg: EngineConfig,
    multiple: number,
  ): Promise<PreparedImage> => {
    const k = `${key}:${cfg.inputSize}:${multiple}`;
    let c = cache.get(k);
    if (!c) {
      const p = await prepareImage(bytes, {
        inputSize: cfg.inputSize,
        sizeMultiple: multiple,
        ...(cfg.roi ? { roi: cfg.roi } : {}),
      });
      c = compact(p);
      cache.set(k, c);
      return p;
    }
    return expand(c);
  };
  const reports: CandidateReport[] = [];
  let best: { objective: number; config: EngineConfig; settings: Partial<EngineConfig> } | undefined;
  let skipped = 0;
  let lastSize = -1;
  for (const [ci, o] of overrides.entries()) {
    const elapsed = (performance.now() - started) / 1000;
    const lastCost = reports[reports.length - 1]?.seconds ?? 0;
    const sizeFactor = ((o.inputSize ?? args.base.inputSize) / args.base.inputSize) ** 2;
    if (best && elapsed + lastCost * sizeFactor > args.budgetSeconds) {
      skipped = overrides.length - ci;
      break;
    }
    const t0 = performance.now();
    const cfg: EngineConfig = { ...args.base, ...o };
    if (cfg.inputSize !== lastSize) cache.clear(); // decoded inputs are reused across candidates of one size
    lastSize = cfg.inputSize;
    const fx = await FeatureExtractor.create(featureSpecOf(cfg), {
      threads: args.threads,
      ...(args.cacheDir ? { cacheDir: args.cacheDir } : {}),
    });
    try {
      const multiple = fx.info.sizeMultiple;
      type Scored = { dist: Float32Array; index: Int32Array; features: FeatureMap; label: number };
      const perFold: { scored: Scored[]; bank: Bank }[] = [];
      const pixScores: number[] = [];
      const pixLabels: number[] = [];
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
        try {
          const run = async (
            tensor: Float32Array,
            p: PreparedImage,
            label: number,
            mask?: Uint8Array,
          ): Promise<void> => {
            const features = await fx.run(tensor, p.netH, p.netW);
            const r = await scorer.score(features.data, features.h, features.w);
            scored.push({ dist: r.dist, index: r.index, features, label });
            if (label === 2) return; // real anomalies: no pixel truth here
            for (let i = 0; i < r.map.length; i += 3) {
              pixScores.push(r.map[i] as number);
              pixLabels.push(mask ? (mask[i] as number) : 0);
            }
          };
          for (const j of other) {
            const p = await prepared(args.normals[j] as Uint8Array, `n${j}`, cfg, multiple);
            await run(p.tensor, p, 0);
            for (const d of randomDefects(perNormal, args.seed + 7919 * j, { w: p.netW, h: p.netH })) {
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
        perFold.push({ scored, bank });
      }
      const pixelAuroc = pixLabels.some((l) => l) ? auroc(pixScores, pixLabels) : 0.5;
      const seconds = (performance.now() - t0) / 1000;
      for (const topK of topKs) {
        const c = { ...cfg, topK };
        const folds2 = perFold.map(({ scored, bank }) => ({
          scores: scored.map((d) =>
            imageScore({ ...d, map: new Float32Array(0), mapH: 0, mapW: 0 }, d.features, bank, c),
          ),
          labels: scored.map((d) => d.label),
        }));
        const versus = (kind: number): number =>
          meanAuroc(
            folds2.map((f) => {
              const keep = f.labels.map((l) => l === 0 || l === kind);
              return {
                scores: f.scores.filter((_, i) => keep[i]),
                labels: f.labels.filter((_, i) => keep[i]).map((l) => (l ? 1 : 0)),
              };
            }),
          );
        const imageAuroc = versus(1);
        const realAuroc = args.anomalies.length ? versus(2) : undefined;
        // Real labelled defects are the best evidence of the product's defect sizes: they weigh double.
        const objective =
          realAuroc === undefined ? (imageAuroc + pixelAuroc) / 2 : (imageAuroc + pixelAuroc + 2 * realAuroc) / 4;
        const settings: Partial<EngineConfig> = { ...o, ...(topKs.length > 1 ? { topK } : {}) };
        reports.push({
          settings,
          imageAuroc,
          pixelAuroc,
          ...(realAuroc !== undefined ? { realAnomalyAuroc: realAuroc } : {}),
          objective,
          seconds,
        });
        // Earlier (cheaper, more general) settings win unless a later one is clearly better.
        if (!best || objective > best.objective + 0.003) best = { objective, config: c, settings };
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
        normals: args.normals.length,
        synthetic: args.normals.length * perNormal,
        anomalies: args.anomalies.length,
      },
      seconds: (performance.now() - started) / 1000,
      budgetSeconds: args.budgetSeconds,
      skipped,
    },
  };
}
