import { createHash } from 'node:crypto';
import { errors } from '@vigil/contracts';
import { readArtifact } from './artifact';
import { featureGraphBytes, featureGraphParts } from './backbone/features';
import { decodeHalf } from './float16';
import { scorerGraph } from './kernels';
import { attr, DataType, encodeModel, floatTensor, int64Tensor, type NodeDef } from './onnx/proto';
import { featureSpecOf } from './patchcore';
import { networkSize } from './preprocess';

export interface ExportOptions {
  /** Size of the images the device will send (default square); the network input keeps their aspect. */
  readonly imageWidth?: number;
  readonly imageHeight?: number;
  readonly cacheDir?: string;
}

export interface ExportedModel {
  /** One self-contained ONNX file: backbone, memory bank, nearest-neighbour scoring, image score, map. */
  readonly onnx: Uint8Array;
  /** Fixed input: `image` float32 [1, 3, height, width], RGB scaled to 0..1, resized (bilinear) to this size. */
  readonly input: { readonly name: 'image'; readonly width: number; readonly height: number };
  /** The image's embedded ICC profile: `ignore` (use the stored pixel values) or `convert` to sRGB first. */
  readonly iccProfile: 'ignore' | 'convert';
  /** `false`: decode the image at full resolution before the resize (no JPEG shrink-on-load), as the model does. */
  readonly shrinkOnLoad: boolean;
  /**
   * Outputs: `score` (raw image score, the model's `rawScore`), `normalised` (sigmoid, 0.5 = threshold),
   * `anomalous` (bool), `map` [1, 1, height, width] (smoothed patch distances), `dist` (per patch).
   */
  readonly outputs: readonly string[];
  readonly threshold: number;
  readonly sha256: string;
}

/**
 * Exports a trained model as one standalone ONNX graph for edge devices (any ONNX runtime, no Vigil code):
 * the built-in backbone's feature graph, the memory bank as a constant, and the same scoring maths as
 * `detect()` (top-k mean of the patch distances, sharpened by the anomaly bank if the model has one, normalised
 * score, smoothed anomaly map).
 * Not exportable: user-registered backbones (their file stays the user's), PatchCore reweighting; a tiled
 * model's export scores one tile (the device cuts the tiles).
 */
export function exportOnnx(artifact: Uint8Array, opts: ExportOptions = {}): ExportedModel {
  const { header, sections } = readArtifact(artifact);
  const cfg = header.config;
  if (cfg.customBackbone) throw errors.badInput('models with a user-registered backbone cannot be exported');
  if (cfg.reweight) throw errors.badInput('models with PatchCore reweighting cannot be exported');
  const spec = featureSpecOf(cfg);
  const digest = createHash('sha256').update(featureGraphBytes(spec, opts.cacheDir)).digest('hex');
  if (digest !== header.backbone.digest) {
    throw errors.conflict('the backbone this model was trained with differs from the installed one', {
      expected: header.backbone.digest,
      actual: digest,
    });
  }
  const { nodes, inits, info } = featureGraphParts(spec);
  const side = cfg.inputSize;
  const { netW, netH } = networkSize(opts.imageWidth ?? side, opts.imageHeight ?? side, side, info.sizeMultiple);
  const h = netH / info.stride;
  const w = netW / info.stride;
  const d = header.bank.dims;
  const sharpen =
    header.sharpening && sections.anomalyBank
      ? { bank: decodeHalf(sections.anomalyBank), rows: header.sharpening.rows, weight: header.sharpening.weight }
      : undefined;
  const scorer = scorerGraph(
    decodeHalf(sections.bank),
    header.bank.rows,
    d,
    { stride: info.stride, sigma: cfg.sigma, precision: cfg.precision },
    sharpen,
  );
  const io = new Set(['Q', 'shape', 'dist', 'map', '']);
  const rename = (n: string): string => (io.has(n) ? (n === 'Q' ? 'nn/Q' : n) : `nn/${n}`);
  const scorerNodes: NodeDef[] = scorer.nodes.map((n) => ({
    ...n,
    inputs: n.inputs.map(rename),
    outputs: n.outputs.map(rename),
  }));
  const k = Math.max(1, Math.min(cfg.topK, h * w));
  const t = header.threshold;
  const tail: NodeDef[] = [
    { op: 'Reshape', inputs: ['features', 'nn/qshape'], outputs: ['nn/Q'] },
    ...scorerNodes,
    { op: 'TopK', inputs: ['dist', 'nn/k'], outputs: ['nn/top', 'nn/topi'], attrs: { axis: attr.int(0) } },
    { op: 'ReduceMean', inputs: ['nn/top'], outputs: ['score'], attrs: { keepdims: attr.int(0) } },
    { op: 'Sub', inputs: ['score', 'nn/threshold'], outputs: ['nn/z0'] },
    { op: 'Div', inputs: ['nn/z0', 'nn/scale'], outputs: ['nn/z'] },
    { op: 'Sigmoid', inputs: ['nn/z'], outputs: ['normalised'] },
    { op: 'GreaterOrEqual', inputs: ['score', 'nn/threshold'], outputs: ['anomalous'] },
  ];
  const onnx = encodeModel(
    {
      name: `vigil-anomaly-model-${header.createdAt}`,
      nodes: [...nodes, ...tail],
      initializers: [
        ...inits,
        ...scorer.inits.map((i) => ({ ...i, name: rename(i.name) })),
        int64Tensor('shape', [4], [1, 1, h, w]),
        int64Tensor('nn/qshape', [2], [-1, d]),
        int64Tensor('nn/k', [1], [k]),
        floatTensor('nn/threshold', [], Float32Array.of(t.image)),
        floatTensor('nn/scale', [], Float32Array.of(t.scale)),
      ],
      inputs: [{ name: 'image', type: DataType.FLOAT, shape: [1, 3, netH, netW] }],
      outputs: [
        { name: 'score', type: DataType.FLOAT, shape: [] },
        { name: 'normalised', type: DataType.FLOAT, shape: [] },
        { name: 'anomalous', type: DataType.BOOL, shape: [] },
        { name: 'map', type: DataType.FLOAT, shape: [1, 1, netH, netW] },
        { name: 'dist', type: DataType.FLOAT, shape: [h * w] },
      ],
    },
    17,
  );
  return {
    onnx,
    input: { name: 'image', width: netW, height: netH },
    iccProfile: cfg.iccProfile,
    shrinkOnLoad: cfg.shrinkOnLoad,
    outputs: ['score', 'normalised', 'anomalous', 'map', 'dist'],
    threshold: t.image,
    sha256: createHash('sha256').update(onnx).digest('hex'),
  };
}
