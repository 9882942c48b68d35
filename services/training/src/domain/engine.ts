import type { TrainOptions, TrainProgress, TrainingImage } from '@vigil/engine';

/** What the trainer needs of a loaded model (the engine's AnomalyModel satisfies it). */
export interface EngineModel {
  readonly info: { readonly threshold: { readonly image: number } };
  detect(
    bytes: Uint8Array,
    options?: { heatmap?: boolean; segmentation?: boolean; anomalyMap?: boolean },
  ): Promise<{
    readonly isAnomalous: boolean;
    readonly score: number;
    readonly rawScore: number;
    readonly anomalyMap?: { readonly data: Float32Array; readonly width: number; readonly height: number };
  }>;
  release(): Promise<void>;
}

export interface EngineConfusion {
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
}

/** The slice of @vigil/engine the training service uses; a port so specs run with a fake. */
export interface Engine {
  trainModel(
    images: readonly TrainingImage[],
    options: TrainOptions,
    onProgress: (progress: TrainProgress) => void,
  ): Promise<{ readonly artifact: Uint8Array; readonly summary: unknown }>;
  loadModel(artifact: Uint8Array, options?: { threads?: number }): Promise<EngineModel>;
  readonly metrics: {
    auroc(scores: ArrayLike<number>, labels: ArrayLike<boolean | number>): number;
    precisionRecallF1(c: EngineConfusion): { precision: number; recall: number; f1: number };
  };
}

/**
 * The real engine, loaded on first use: onnxruntime and the backbone are not needed by a process (or a
 * gateway start) that never trains.
 */
export function lazyEngine(): () => Promise<Engine> {
  let loading: Promise<Engine> | null = null;
  return () => {
    loading ??= import('@vigil/engine').then((engine) => engine satisfies Engine);
    return loading;
  };
}
