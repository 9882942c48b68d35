import { type BuiltinBackboneId, type LayerDepth } from './backbone/catalog';
import { type CustomBackbone } from './backbone/custom';
import { type ActivationRanges } from './backbone/quantize';
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
  /**
   * An image's embedded ICC profile: `ignore` reads the pixel values as they are stored (as PIL, OpenCV and
   * anomalib do); `convert` transforms them to sRGB first. Converting a 576x768 phone photo costs ~10 ms of the
   * ~12 ms decode, and a line camera's images all carry the same profile, so models default to `ignore`;
   * artifacts written before this option existed record nothing and load as `convert`, which they trained with.
   */
  readonly iccProfile: 'ignore' | 'convert';
  /**
   * JPEG shrink-on-load (src/preprocess.ts): `true` lets libvips decode a JPEG already reduced in the DCT domain
   * before the linear resize, what artifacts written before the option trained with (they load as `true`);
   * `false` (default) decodes at full resolution, by libjpeg-turbo directly where no rotation, crop or colour
   * conversion is needed (~2x faster for the photos measured), and reduces with the same linear kernel.
   * Tiles are always cut from a full-resolution decode.
   */
  readonly shrinkOnLoad: boolean;
  /**
   * Tiles along the image's longer side (1 = none): each overlapping square tile is resized to the network
   * input, so small defects in large images keep their size in patches. 0 (default) = automatic at training:
   * `ceil(longSide / 1024)` for images of 2048 px and more, else 1; the model records the resolved number.
   */
  readonly tiles: number;
  /** Overlap between neighbouring tiles, as a fraction of the tile side. */
  readonly tileOverlap: number;
  /**
   * A user-registered ONNX backbone (replaces `backbones` and `layers`); validated at training, its sha256 and
   * layer shapes recorded in the model, which then refuses to load with a different file.
   */
  readonly customBackbone?: CustomBackbone;
  /**
   * Arithmetic of the bundled TF-Hub network: `int8` runs it quantized (src/backbone/quantize.ts), about twice
   * as fast on a CPU with integer dot-product instructions, with activation ranges measured on the project's
   * normal images at training (`activationRanges`); `fp32` runs it in float. Artifacts written before the option
   * load as `fp32`, which they trained with. Custom backbones always run as given.
   */
  readonly precision: 'int8' | 'fp32';
  /** The int8 network's measured activation ranges (set by training; never pinned by hand). */
  readonly activationRanges?: ActivationRanges;
}

export const DEFAULT_CONFIG: EngineConfig = {
  backbones: ['mnv2-mid'],
  layers: ['mid', 'deep'],
  aggregation: 3,
  inputSize: 256,
  coresetRatio: 0.1,
  maxBankSize: 6000,
  maxCandidates: 60000,
  projectionDim: 64,
  topK: 5,
  reweight: false,
  neighbours: 9,
  sigma: 4,
  iccProfile: 'ignore',
  shrinkOnLoad: false,
  tiles: 0,
  tileOverlap: 0.125,
  precision: 'int8',
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
