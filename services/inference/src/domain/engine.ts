import { sniffFormat, toPng } from '@vigil/images';
import type { AnomalyArea } from './types';

/** What the detector needs of a loaded model (the engine's AnomalyModel satisfies it). */
export interface DetectionModel {
  detect(
    bytes: Uint8Array,
    options: { heatmap: boolean; segmentation: boolean },
  ): Promise<{
    readonly isAnomalous: boolean;
    readonly confidence: number;
    readonly score: number;
    readonly rawScore: number;
    readonly threshold: number;
    readonly heatmap?: Buffer;
    readonly segmentation?: { readonly mask: Buffer; readonly anomalies: readonly AnomalyArea[] };
  }>;
  release(): Promise<void>;
}

/** The slice of @vigil/engine inference uses; a port so specs run with a fake. */
export interface InferenceEngine {
  loadModel(artifact: Uint8Array, options: { threads: number }): Promise<DetectionModel>;
}

/** The real engine, imported on first use (a process that never detects never loads onnxruntime). */
export function lazyInferenceEngine(): () => Promise<InferenceEngine> {
  let loading: Promise<InferenceEngine> | null = null;
  return () => {
    loading ??= import('@vigil/engine').then((engine) => ({
      loadModel: (artifact, options) => engine.loadModel(artifact, options),
    }));
    return loading;
  };
}

/**
 * The engine decodes with sharp, which has no BMP decoder, while the image catalogue accepts BMP: such an image
 * is handed over as a lossless PNG of the same pixels. Every other format goes as stored.
 */
export async function engineReadable(bytes: Buffer): Promise<Buffer> {
  return sniffFormat(bytes) === 'bmp' ? toPng(bytes) : bytes;
}
