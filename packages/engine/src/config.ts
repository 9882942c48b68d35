import { type BuiltinBackboneId, type LayerDepth } from './backbone/catalog';
import { type Roi } from './preprocess';

/** Everything that decides how a model sees and scores an image; recorded in the artifact. */
export interface EngineConfig {
  readonly backbones: readonly BuiltinBackboneId[];
  readonly layers: readonly LayerDepth[];
  /** Local neighbourhood aggregation window (odd). */
  readonly aggregation: number;
  /** Longer side of the network input, pixels. */
  readonly inputSize: number;
  /** Fraction of training patches kept by the greedy k-center coreset. */
  readonly coresetRatio: number;
  readonly maxBankSize: number;
  /** Patches sampled (deterministically) before the coreset when there are more. */
  readonly maxCandidates: number;
  /** Random projection width used only for coreset selection. */
  readonly projectionDim: number;
  /** Image score = mean of the k highest patch scores. */
  readonly topK: number;
  /** PatchCore's reweighting of the image score by the density around the nearest bank patch. */
  readonly reweight: boolean;
  readonly neighbours: number;
  /** Gaussian smoothing of the anomaly map, network-input pixels. */
  readonly sigma: number;
  readonly roi?: Roi;
}

export const DEFAULT_CONFIG: EngineConfig = {
  backbones: ['mnv2-mid'],
  layers: ['mid', 'deep'],
  aggregation: 3,
  inputSize: 256,
  coresetRatio: 0.1,
  maxBankSize: 6000,
  maxCandidates: 60000,
  projectionDim: 96,
  topK: 5,
  reweight: false,
  neighbours: 9,
  sigma: 4,
};

export type ThresholdPolicy =
  | { readonly mode: 'f1' }
  | { readonly mode: 'falseRejectRate'; readonly rate: number }
  | { readonly mode: 'missRate'; readonly rate: number };

export interface TrainProgress {
  readonly stage: 'features' | 'coreset' | 'calibration' | 'selection' | 'done';
  /** 0..1 within the whole training run. */
  readonly fraction: number;
  readonly message?: string;
}

export type ProgressCallback = (p: TrainProgress) => void;
