import sharp from 'sharp';
import { errors } from '@vigil/contracts';
import { BUILTIN_BACKBONES } from './backbone/catalog';
import { describeSpec, FeatureExtractor, type FeatureMap, type FeatureSpec } from './backbone/features';
import { type EngineConfig } from './config';
import { decodeHalf, encodeHalf } from './float16';
import { greedyCoreset, kNearest, NearestNeighbourScorer, project, type ScoreMapResult } from './kernels';
import {
  prepareImage,
  prepareTiles,
  type PreparedImage,
  type PreparedTile,
  type PreprocessOptions,
} from './preprocess';
import { gaussianMatrix, rng } from './random';
import { parseHexColor } from './render';

export function featureSpecOf(cfg: EngineConfig): FeatureSpec {
  if (cfg.precision === 'int8' && !cfg.customBackbone && !cfg.activationRanges) {
    throw errors.internal('an int8 model needs its measured activation ranges (openExtractor measures them)');
  }
  return {
    backbones: cfg.backbones,
    layers: cfg.layers,
    aggregation: cfg.aggregation,
    ...(cfg.customBackbone ? { custom: cfg.customBackbone } : {}),
    ...(cfg.precision === 'int8' && cfg.activationRanges ? { activationRanges: cfg.activationRanges } : {}),
  };
}

/** Normal images an int8 calibration looks at: enough to see each unit's range, cheap next to training. */
export const CALIBRATION_IMAGES = 12;

/**
 * The feature extractor for `cfg`. An int8 configuration without activation ranges has them measured first,
 * on (up to `CALIBRATION_IMAGES` of) `normals`, preprocessed as the model will see them; the configuration
 * returned carries them, so the model records them and loads the same graph.
 */
export async function openExtractor(
  cfg: EngineConfig,
  normals: readonly Uint8Array[],
  opts: { threads: number; cacheDir?: string },
): Promise<{ fx: FeatureExtractor; config: EngineConfig }> {
  let config = cfg;
  if (cfg.precision === 'int8' && !cfg.customBackbone && !cfg.activationRanges) {
    const float = featureSpecOf({ ...cfg, precision: 'fp32' });
    const multiple = describeSpec(float).sizeMultiple;
    async function* inputs(): AsyncGenerator<PreparedImage> {
      for (const bytes of normals.slice(0, CALIBRATION_IMAGES))
        yield* await prepareTiles(bytes, {
          ...preprocessOptions(cfg, multiple),
          tiles: cfg.tiles,
          overlap: cfg.tileOverlap,
        });
    }
    config = { ...cfg, activationRanges: await FeatureExtractor.calibrate(float, inputs(), opts) };
  }
  return { fx: await FeatureExtractor.create(featureSpecOf(config), opts), config };
}

export function licenceOf(cfg: EngineConfig): string {
  if (cfg.customBackbone) return cfg.customBackbone.licence ?? `user-supplied (${cfg.customBackbone.name})`;
  return cfg.backbones.map((b) => BUILTIN_BACKBONES[b].licence).join('; ');
}

export interface ExtractedTile {
  readonly prepared: PreparedTile;
  readonly features: FeatureMap;
}

export interface Extracted {
  /** The (first) network input; `width`, `height` and `roi` describe the whole image. */
  readonly prepared: PreparedImage;
  /** The (first) tile's features; the whole image's without tiling. */
  readonly features: FeatureMap;
  /** One entry without tiling. */
  readonly tiles: readonly ExtractedTile[];
}

/** How `cfg` preprocesses an image for a network whose input sides are multiples of `sizeMultiple`. */
export function preprocessOptions(cfg: EngineConfig, sizeMultiple: number): PreprocessOptions {
  const fixed = cfg.customBackbone?.inputSize;
  return {
    inputSize: cfg.inputSize,
    sizeMultiple,
    iccProfile: cfg.iccProfile,
    shrinkOnLoad: cfg.shrinkOnLoad,
    ...(cfg.roi ? { roi: cfg.roi } : {}),
    ...(fixed ? { fixedSize: fixed } : {}),
  };
}

export async function extract(fx: FeatureExtractor, bytes: Uint8Array, cfg: EngineConfig): Promise<Extracted> {
  const opts = preprocessOptions(cfg, fx.info.sizeMultiple);
  const tiles: ExtractedTile[] = [];
  if ((cfg.tiles ?? 1) <= 1) {
    const prepared = await prepareImage(bytes, opts);
    const features = await fx.run(prepared.tensor, prepared.netH, prepared.netW);
    const rect = { left: 0, top: 0, width: prepared.roi.width, height: prepared.roi.height };
    return { prepared, features, tiles: [{ prepared: { ...prepared, rect }, features }] };
  }
  for (const p of await prepareTiles(bytes, { ...opts, tiles: cfg.tiles, overlap: cfg.tileOverlap })) {
    tiles.push({ prepared: p, features: await fx.run(p.tensor, p.netH, p.netW) });
  }
  const first = tiles[0] as ExtractedTile;
  return { prepared: first.prepared, features: first.features, tiles };
}

/** Where a tile's anomaly map sits in the stitched map. */
export interface TilePlacement {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly features: FeatureMap;
}

export interface AnalysedImage {
  /** Patch distances of all tiles (concatenated) and the stitched anomaly map over the analysed region. */
  readonly result: ScoreMapResult;
  /** Features of all tiles' patches, concatenated in the order of `result.dist` ([n, 1] when tiled). */
  readonly features: FeatureMap;
  readonly placements: readonly TilePlacement[];
}

/**
 * Scores every tile against the bank and stitches the tiles' anomaly maps (mean where they overlap) at the
 * network's scale. Without tiling this is the scorer's result as is.
 */
/** What scores patches and maps them: the normal bank's scorer, or the sharpened one (src/sharpen.ts). */
export interface PatchScorer {
  score(features: Float32Array, h: number, w: number): Promise<ScoreMapResult>;
  release(): Promise<void>;
}

export async function analyse(scorer: PatchScorer, ex: Extracted): Promise<AnalysedImage> {
  if (ex.tiles.length === 1) {
    const f = ex.features;
    const result = await scorer.score(f.data, f.h, f.w);
    return { result, features: f, placements: [{ x: 0, y: 0, w: result.mapW, h: result.mapH, features: f }] };
  }
  const parts: { r: ScoreMapResult; t: ExtractedTile }[] = [];
  for (const t of ex.tiles) parts.push({ r: await scorer.score(t.features.data, t.features.h, t.features.w), t });
  const { roi } = ex.prepared;
  const full = (parts[0] as { t: ExtractedTile }).t.prepared;
  const scale = Math.max(full.netW / full.rect.width, full.netH / full.rect.height);
  const mapW = Math.max(1, Math.round(roi.width * scale));
  const mapH = Math.max(1, Math.round(roi.height * scale));
  const sum = new Float32Array(mapW * mapH);
  const weight = new Float32Array(mapW * mapH);
  const placements: TilePlacement[] = [];
  let total = 0;
  for (const { r, t } of parts) {
    const x0 = Math.round(t.prepared.rect.left * scale);
    const y0 = Math.round(t.prepared.rect.top * scale);
    const w = Math.min(r.mapW, mapW - x0);
    const h = Math.min(r.mapH, mapH - y0);
    placements.push({ x: x0, y: y0, w, h, features: t.features });
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const o = (y0 + y) * mapW + x0 + x;
        sum[o] = (sum[o] as number) + (r.map[y * r.mapW + x] as number);
        weight[o] = (weight[o] as number) + 1;
      }
    total += r.dist.length;
  }
  for (let i = 0; i < sum.length; i++) sum[i] = (sum[i] as number) / Math.max(1, weight[i] as number);
  const dims = ex.features.channels;
  const dist = new Float32Array(total);
  const index = new Int32Array(total);
  const data = new Float32Array(total * dims);
  let o = 0;
  for (const { r, t } of parts) {
    dist.set(r.dist, o);
    index.set(r.index, o);
    data.set(t.features.data, o * dims);
    o += r.dist.length;
  }
  return {
    result: { dist, index, map: sum, mapW, mapH },
    features: { data, h: total, w: 1, channels: dims },
    placements,
  };
}

export interface Bank {
  /** float16 bits of the selected rows, [rows, dims]. */
  readonly half: Uint16Array;
  /** The same rows as used for scoring (float16 rounded). */
  readonly rows: Float32Array;
  readonly count: number;
  readonly dims: number;
  readonly neighbours: Int32Array;
}

/**
 * Greedy k-center coreset over all patches of the given feature maps. Consumes `maps`: the array is emptied
 * once the candidate patches are copied out, so the maps can be collected before the coreset runs (at 512 px
 * with both networks, 32 images' maps are ~160 MB).
 */
export async function buildBank(maps: FeatureMap[], cfg: EngineConfig, seed: number, threads: number): Promise<Bank> {
  const d = maps[0]?.channels ?? 0;
  const total = maps.reduce((a, m) => a + m.h * m.w, 0);
  if (!total || !d) throw errors.badInput('no training patches');
  const take = Math.min(total, cfg.maxCandidates);
  // Deterministic subsample of candidate patches when there are too many.
  const pick = new Int32Array(take);
  if (take === total) for (let i = 0; i < total; i++) pick[i] = i;
  else {
    const next = rng(seed ^ 0x5eed);
    const step = total / take;
    for (let i = 0; i < take; i++) pick[i] = Math.min(total - 1, Math.floor(i * step + next() * step));
  }
  const all = new Float32Array(take * d);
  {
    let mapIdx = 0;
    let base = 0;
    for (let i = 0; i < take; i++) {
      const p = pick[i] as number;
      while (p >= base + (maps[mapIdx] as FeatureMap).h * (maps[mapIdx] as FeatureMap).w) {
        base += (maps[mapIdx] as FeatureMap).h * (maps[mapIdx] as FeatureMap).w;
        mapIdx++;
      }
      const m = maps[mapIdx] as FeatureMap;
      all.set(m.data.subarray((p - base) * d, (p - base + 1) * d), i * d);
    }
  }
  maps.length = 0;
  const count = Math.max(1, Math.min(cfg.maxBankSize, take, Math.round(total * cfg.coresetRatio)));
  let selected: Int32Array;
  if (count >= take) selected = Int32Array.from({ length: take }, (_, i) => i);
  else {
    const k = Math.min(cfg.projectionDim, d);
    const projected = k < d ? await project(all, take, d, gaussianMatrix(d, k, seed), k, threads) : all;
    selected = await greedyCoreset(projected, take, k, count, Math.floor(rng(seed)() * take), threads);
  }
  const chosen = new Float32Array(selected.length * d);
  selected.forEach((s, i) => chosen.set(all.subarray(s * d, (s + 1) * d), i * d));
  const half = encodeHalf(chosen);
  const rows = decodeHalf(half);
  let neighbours = new Int32Array(0);
  if (cfg.reweight && selected.length > 1) {
    const kk = Math.min(cfg.neighbours + 1, selected.length);
    const nn = await kNearest(rows, selected.length, d, rows, selected.length, kk, threads);
    neighbours = new Int32Array(selected.length * (kk - 1));
    for (let i = 0; i < selected.length; i++) {
      let o = 0;
      for (let j = 0; j < kk && o < kk - 1; j++) {
        const idx = nn.index[i * kk + j] as number;
        if (idx !== i) neighbours[i * (kk - 1) + o++] = idx;
      }
    }
  }
  return { half, rows, count: selected.length, dims: d, neighbours };
}

export interface ScoredImage {
  readonly score: number;
  readonly result: ScoreMapResult;
  readonly extracted: Extracted;
}

/** Mean of the k highest patch scores, and where the highest is. */
export function topKMean(dist: Float32Array, topK: number): { mean: number; argmax: number } {
  const n = dist.length;
  const k = Math.max(1, Math.min(topK, n));
  // Partial selection of the k largest; n is small (hundreds to a few thousand).
  const top = new Float64Array(k).fill(-Infinity);
  let argmax = 0;
  for (let i = 0; i < n; i++) {
    const v = dist[i] as number;
    if (v > (top[0] as number)) argmax = i;
    if (v <= (top[k - 1] as number)) continue;
    let j = k - 1;
    while (j > 0 && (top[j - 1] as number) < v) {
      top[j] = top[j - 1] as number;
      j--;
    }
    top[j] = v;
  }
  let s = 0;
  for (let i = 0; i < k; i++) s += top[i] as number;
  return { mean: s / k, argmax };
}

/** Image score from the patch distances: mean of the top-k, optionally PatchCore-reweighted. */
export function imageScore(
  r: ScoreMapResult,
  features: FeatureMap,
  bank: { rows: Float32Array; dims: number; neighbours: Int32Array },
  cfg: EngineConfig,
): number {
  const { mean: s0, argmax } = topKMean(r.dist, cfg.topK);
  let s = s0;
  const nb = bank.neighbours.length / Math.max(1, bank.rows.length / bank.dims);
  if (cfg.reweight && nb >= 1) {
    const d = bank.dims;
    const m = r.index[argmax] as number;
    const q = features.data.subarray(argmax * d, (argmax + 1) * d);
    const dist = (row: number): number => {
      let acc = 0;
      for (let c = 0; c < d; c++) {
        const diff = (q[c] as number) - (bank.rows[row * d + c] as number);
        acc += diff * diff;
      }
      return Math.sqrt(acc);
    };
    const d0 = dist(m);
    let denom = 1;
    for (let j = 0; j < nb; j++) denom += Math.exp(dist(bank.neighbours[m * nb + j] as number) - d0);
    s *= 1 - 1 / denom;
  }
  return s;
}

export interface MaskClass {
  readonly name: string;
  readonly color: string;
}

/** Decodes a mask image to a class-index raster (0 = background) at the given size by nearest class colour. */
export async function decodeMask(
  bytes: Uint8Array,
  w: number,
  h: number,
  classes: readonly MaskClass[],
): Promise<Uint8Array> {
  let raw: Buffer;
  try {
    raw = await sharp(bytes, { failOn: 'truncated' })
      .rotate()
      .resize(w, h, { fit: 'fill', kernel: 'nearest' })
      .keepIccProfile() // class colours are nominal values: a profile must not shift them
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer();
  } catch (cause) {
    throw errors.invalidImage('mask could not be decoded', { reason: cause instanceof Error ? cause.message : '' });
  }
  const ch = raw.length / (w * h);
  const rgb = classes.map((c) => parseHexColor(c.color));
  const out = new Uint8Array(w * h);
  for (let i = 0; i < w * h; i++) {
    const r = raw[i * ch] ?? 0;
    const g = ch >= 3 ? (raw[i * ch + 1] ?? 0) : r;
    const b = ch >= 3 ? (raw[i * ch + 2] ?? 0) : r;
    if (r + g + b < 60) continue;
    let best = 0;
    let bestD = Infinity;
    rgb.forEach((c, k) => {
      const dd = (c[0] - r) ** 2 + (c[1] - g) ** 2 + (c[2] - b) ** 2;
      if (dd < bestD) {
        bestD = dd;
        best = k;
      }
    });
    out[i] = best + 1;
  }
  return out;
}

export async function createScorer(
  rows: Float32Array,
  count: number,
  dims: number,
  stride: number,
  cfg: EngineConfig,
  threads: number,
): Promise<NearestNeighbourScorer> {
  return NearestNeighbourScorer.create(rows, count, dims, {
    stride,
    sigma: cfg.sigma,
    threads,
    precision: cfg.precision,
  });
}
