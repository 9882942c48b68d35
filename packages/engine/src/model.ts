import { errors } from '@vigil/contracts';
import { readArtifact, type ArtifactHeader } from './artifact';
import { FeatureExtractor } from './backbone/features';
import { type EngineConfig } from './config';
import { decodeHalf } from './float16';
import {
  analyse,
  createScorer,
  extract,
  featureSpecOf,
  imageScore,
  type PatchScorer,
  type TilePlacement,
} from './patchcore';
import { SharpenedScorer } from './sharpen';
import { heatmapPng, labelMaskPng } from './render';

export interface AnomalyClassArea {
  readonly name: string;
  /** Percentage (0..100) of the analysed area. */
  readonly totalPercentageArea: number;
  readonly color: string;
}

/** Shaped like Lookout for Vision's DetectAnomalyResult. */
export interface DetectionResult {
  readonly isAnomalous: boolean;
  /** Confidence in [0,1] for the verdict given. */
  readonly confidence: number;
  /** Normalised score in [0,1]; 0.5 is the threshold. */
  readonly score: number;
  /** The raw image score (patch distance units) and the raw threshold it is compared with. */
  readonly rawScore: number;
  readonly threshold: number;
  readonly width: number;
  readonly height: number;
  /** Heat map PNG, same size as the input image. */
  readonly heatmap?: Buffer;
  /** For models trained with masks: class-coloured mask PNG and class areas, background first. */
  readonly segmentation?: { readonly mask: Buffer; readonly anomalies: readonly AnomalyClassArea[] };
  /** Raw smoothed anomaly map at network resolution (for metrics). */
  readonly anomalyMap?: { readonly data: Float32Array; readonly width: number; readonly height: number };
}

export interface DetectOptions {
  /** Render the heat map PNG (default true). */
  readonly heatmap?: boolean;
  /** Render the segmentation when the model has classes (default true). */
  readonly segmentation?: boolean;
  /** Return the raw anomaly map (default false). */
  readonly anomalyMap?: boolean;
}

export interface LoadOptions {
  readonly cacheDir?: string;
  /** onnxruntime intra-op threads (default 2). */
  readonly threads?: number;
}

export interface ModelInfo {
  readonly config: EngineConfig;
  readonly threshold: ArtifactHeader['threshold'];
  readonly classes: ArtifactHeader['classes'];
  readonly bankRows: number;
  readonly dims: number;
  readonly backboneDigest: string;
  readonly training: ArtifactHeader['training'];
  readonly engineVersion: string;
  /** Sharpening with labelled anomalies, when the model uses it. */
  readonly sharpening?: ArtifactHeader['sharpening'];
}

export function normalise(raw: number, threshold: number, scale: number): number {
  const z = (raw - threshold) / scale;
  return 1 / (1 + Math.exp(-z));
}

export class AnomalyModel {
  private constructor(
    readonly info: ModelInfo,
    private readonly fx: FeatureExtractor,
    private readonly scorer: PatchScorer,
    private readonly bank: { rows: Float32Array; dims: number; neighbours: Int32Array },
    private readonly prototypes: Float32Array,
  ) {}

  static async fromParts(
    header: ArtifactHeader,
    rows: Float32Array,
    neighbours: Int32Array,
    prototypes: Float32Array,
    fx: FeatureExtractor,
    threads: number,
    anomalyRows?: Float32Array,
  ): Promise<AnomalyModel> {
    const cfg = header.config;
    if (fx.info.digest !== header.backbone.digest) {
      throw errors.conflict('the backbone this model was trained with differs from the installed one', {
        expected: header.backbone.digest,
        actual: fx.info.digest,
      });
    }
    const normal = await createScorer(rows, header.bank.rows, header.bank.dims, fx.info.stride, cfg, threads);
    let scorer: PatchScorer = normal;
    const sharpening = header.sharpening;
    if (sharpening && anomalyRows) {
      try {
        const known = await createScorer(anomalyRows, sharpening.rows, header.bank.dims, fx.info.stride, cfg, threads);
        scorer = new SharpenedScorer(normal, known, sharpening.weight);
      } catch (e) {
        await normal.release();
        throw e;
      }
    }
    return new AnomalyModel(
      {
        config: cfg,
        threshold: header.threshold,
        classes: header.classes,
        bankRows: header.bank.rows,
        dims: header.bank.dims,
        backboneDigest: header.backbone.digest,
        training: header.training,
        engineVersion: header.engineVersion,
        ...(sharpening ? { sharpening } : {}),
      },
      fx,
      scorer,
      { rows, dims: header.bank.dims, neighbours },
      prototypes,
    );
  }

  async detect(bytes: Uint8Array, opts: DetectOptions = {}): Promise<DetectionResult> {
    const cfg = this.info.config;
    const ex = await extract(this.fx, bytes, cfg);
    const { prepared } = ex;
    if (ex.features.channels !== this.bank.dims) throw errors.internal('feature width differs from the memory bank');
    const { result: r, features, placements } = await analyse(this.scorer, ex);
    const raw = imageScore(r, features, this.bank, cfg);
    const t = this.info.threshold;
    const score = normalise(raw, t.image, t.scale);
    const isAnomalous = raw >= t.image;
    const at = { width: prepared.width, height: prepared.height, roi: prepared.roi };
    // The heat map's deflate runs on the thread pool while this thread computes the segmentation.
    const heatmapPending = opts.heatmap === false ? undefined : heatmapPng(r.map, r.mapW, r.mapH, t.pixel, at);
    heatmapPending?.catch(() => undefined); // awaited below; no unhandled rejection if the segmentation throws
    let segmentation: DetectionResult['segmentation'];
    if (this.info.classes.length && opts.segmentation !== false) {
      segmentation = await this.segment(r.map, r.mapW, r.mapH, placements, at);
    }
    const heatmap = await heatmapPending;
    return {
      isAnomalous,
      confidence: isAnomalous ? score : 1 - score,
      score,
      rawScore: raw,
      threshold: t.image,
      width: prepared.width,
      height: prepared.height,
      ...(heatmap ? { heatmap } : {}),
      ...(segmentation ? { segmentation } : {}),
      ...(opts.anomalyMap ? { anomalyMap: { data: r.map, width: r.mapW, height: r.mapH } } : {}),
    };
  }

  /** Pixels over the pixel threshold get the class of the nearest labelled-defect prototype. */
  private async segment(
    map: Float32Array,
    w: number,
    h: number,
    placements: readonly TilePlacement[],
    at: { width: number; height: number; roi: { left: number; top: number; width: number; height: number } },
  ): Promise<NonNullable<DetectionResult['segmentation']>> {
    const classes = this.info.classes;
    const labels = new Uint8Array(w * h);
    for (const t of placements) {
      const features = t.features;
      const d = features.channels;
      const patchClass = new Uint8Array(features.w * features.h);
      // One class: every patch over the threshold is of it (no prototype distances to compute).
      if (classes.length === 1) patchClass.fill(1);
      else
        for (let p = 0; p < patchClass.length; p++) {
          let best = 0;
          let bestD = Infinity;
          for (let c = 0; c < classes.length; c++) {
            let acc = 0;
            for (let k = 0; k < d; k++) {
              const diff = (features.data[p * d + k] as number) - (this.prototypes[c * d + k] as number);
              acc += diff * diff;
            }
            if (acc < bestD) {
              bestD = acc;
              best = c;
            }
          }
          patchClass[p] = best + 1;
        }
      // Pixels over the threshold take the class of the tile's patch under them (later tiles win overlaps).
      const sx = features.w / t.w;
      const sy = features.h / t.h;
      for (let y = 0; y < t.h; y++) {
        const py = Math.min(features.h - 1, Math.floor(y * sy));
        for (let x = 0; x < t.w; x++) {
          const i = (t.y + y) * w + t.x + x;
          labels[i] =
            (map[i] as number) >= this.info.threshold.pixel
              ? (patchClass[py * features.w + Math.min(features.w - 1, Math.floor(x * sx))] as number)
              : 0;
        }
      }
    }
    const counts = new Float64Array(classes.length + 1);
    for (let i = 0; i < labels.length; i++) counts[labels[i] as number] = (counts[labels[i] as number] ?? 0) + 1;
    const mask = await labelMaskPng(
      labels,
      w,
      h,
      classes.map((c) => c.color),
      at,
    );
    const pct = (n: number): number => (100 * n) / (w * h);
    return {
      mask,
      anomalies: [
        { name: 'background', totalPercentageArea: pct(counts[0] ?? 0), color: '#FFFFFF' },
        ...classes.map((c, i) => ({ name: c.name, totalPercentageArea: pct(counts[i + 1] ?? 0), color: c.color })),
      ],
    };
  }

  async release(): Promise<void> {
    await Promise.all([this.fx.release(), this.scorer.release()]);
  }
}

/** Loads a model artifact (validated by checksum, version and schema). */
export async function loadModel(artifact: Uint8Array, opts: LoadOptions = {}): Promise<AnomalyModel> {
  const { header, sections } = readArtifact(artifact);
  const threads = opts.threads ?? 2;
  const fx = await FeatureExtractor.create(featureSpecOf(header.config), {
    threads,
    ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
  });
  try {
    return await AnomalyModel.fromParts(
      header,
      decodeHalf(sections.bank),
      sections.neighbours,
      sections.prototypes,
      fx,
      threads,
      sections.anomalyBank ? decodeHalf(sections.anomalyBank) : undefined,
    );
  } catch (e) {
    await fx.release();
    throw e;
  }
}
