import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { errors } from '@vigil/contracts';
import { appendGraphOutputs } from '../onnx/proto';

/**
 * A backbone the user registers: an ONNX file (e.g. an ImageNet WideResNet-50 they exported) and the names of
 * the tensors to take patch features from (NCHW float, shallow to deep). The engine appends those tensors to
 * the graph's outputs, so they may be internal nodes.
 */
export interface CustomBackbone {
  readonly name: string;
  /** Path of the .onnx file (read at training and at every load; its sha256 must not change). */
  readonly path: string;
  /** The image input (default: the model's first input), float [1, 3, H, W]. */
  readonly inputName?: string;
  readonly featureNodes: readonly string[];
  /** A fixed network input size, when the model requires one; otherwise the config's `inputSize` applies. */
  readonly inputSize?: { readonly width: number; readonly height: number };
  /** Per-channel normalisation of the 0..1 RGB input: (x - mean) / std. */
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
  readonly licence?: string;
  /** Filled in by validation and recorded in the model: sha256 of the file and each layer's stride/width. */
  readonly digest?: string;
  readonly layers?: readonly { readonly name: string; readonly stride: number; readonly channels: number }[];
}

export interface ValidatedBackbone extends CustomBackbone {
  readonly digest: string;
  readonly layers: readonly { readonly name: string; readonly stride: number; readonly channels: number }[];
  readonly inputName: string;
}

export interface LoadedCustomBackbone {
  readonly spec: ValidatedBackbone;
  readonly session: ort.InferenceSession;
}

/** The side used to probe a model without a fixed input size: divisible by every usual stride. */
const PROBE_SIDE = 224;

/**
 * Reads, hashes and probes a user backbone: the file must be a loadable ONNX model with the named image input
 * and feature tensors of shape [1, C, H/s, W/s]. Typed BAD_USER_INPUT errors say what is wrong.
 */
export async function loadCustomBackbone(
  spec: CustomBackbone,
  options: ort.InferenceSession.SessionOptions,
): Promise<LoadedCustomBackbone> {
  const bad = (message: string, details: Record<string, unknown> = {}): Error =>
    errors.badInput(`custom backbone '${spec.name}': ${message}`, { reason: 'invalid-backbone', ...details });
  if (!spec.featureNodes.length) throw bad('needs at least one feature node');
  if (spec.mean.length !== 3 || spec.std.length !== 3 || spec.std.some((s) => !(s > 0)))
    throw bad('mean and std need three values (std > 0)');
  let file: Uint8Array;
  try {
    file = readFileSync(spec.path);
  } catch (cause) {
    throw bad('file could not be read', { path: spec.path, cause: String(cause) });
  }
  const digest = createHash('sha256').update(file).digest('hex');
  if (spec.digest && spec.digest !== digest) {
    throw errors.conflict(`custom backbone '${spec.name}' differs from the file the model was trained with`, {
      expected: spec.digest,
      actual: digest,
      path: spec.path,
    });
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(appendGraphOutputs(file, spec.featureNodes), options);
  } catch (cause) {
    throw bad('not a loadable ONNX model, or a feature node is not in its graph', {
      cause: cause instanceof Error ? cause.message : String(cause),
    });
  }
  try {
    const inputName = spec.inputName ?? session.inputNames[0] ?? '';
    if (!session.inputNames.includes(inputName))
      throw bad(`has no input '${inputName}'`, { inputs: session.inputNames });
    const w = spec.inputSize?.width ?? PROBE_SIDE;
    const h = spec.inputSize?.height ?? PROBE_SIDE;
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await session.run({ [inputName]: new ort.Tensor('float32', new Float32Array(3 * w * h), [1, 3, h, w]) }, [
        ...spec.featureNodes,
      ]);
    } catch (cause) {
      throw bad(`does not run on a [1, 3, ${h}, ${w}] float input`, {
        cause: cause instanceof Error ? cause.message : String(cause),
      });
    }
    const layers = spec.featureNodes.map((name) => {
      const t = out[name];
      const dims = t?.dims ?? [];
      if (!t || t.type !== 'float32' || dims.length !== 4 || dims[0] !== 1)
        throw bad(`feature node '${name}' is not a float [1, C, h, w] tensor`, { dims });
      const [, c = 0, fh = 0, fw = 0] = dims;
      const stride = h / fh;
      if (!Number.isInteger(stride) || stride < 1 || stride > 64 || fh < 2 || Math.abs(w / fw - stride) > 1e-9)
        throw bad(
          `feature node '${name}' (${fw}x${fh}) is not a spatial feature map (integer stride <= 64) of the input ${w}x${h}`,
        );
      return { name, stride, channels: c };
    });
    if (spec.layers && JSON.stringify(spec.layers) !== JSON.stringify(layers))
      throw errors.conflict(`custom backbone '${spec.name}' no longer has the recorded feature layers`, {
        expected: spec.layers,
        actual: layers,
      });
    return { spec: { ...spec, inputName, digest, layers }, session };
  } catch (e) {
    await session.release();
    throw e;
  }
}
