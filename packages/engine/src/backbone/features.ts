import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { errors } from '@vigil/contracts';
import {
  appendGraphOutputs,
  attr,
  encodeModel,
  floatTensor,
  DataType,
  type NodeDef,
  type TensorInit,
} from '../onnx/proto';
import { BUILTIN_BACKBONES, type BuiltinBackboneId, type LayerDepth } from './catalog';
import { convertGraphModel, convertLayersModel } from './convert';
import { loadCustomBackbone, type CustomBackbone, type LoadedCustomBackbone, type ValidatedBackbone } from './custom';
import { calibrationTensors, quantizeBody, recordedRange, type ActivationRanges } from './quantize';
import { loadTfjsBundle, nsfwjsModelDir } from './tfjs-weights';

/** Which network(s), which depths and how wide a neighbourhood make a patch feature. */
export interface FeatureSpec {
  /** One or more bundled networks; more than one concatenates their features (an ensemble). */
  readonly backbones: readonly BuiltinBackboneId[];
  readonly layers: readonly LayerDepth[];
  /** Side of the local average-pooling window (PatchCore's neighbourhood aggregation), odd. */
  readonly aggregation: number;
  /** A user-registered ONNX backbone; replaces `backbones` and `layers`. */
  readonly custom?: CustomBackbone;
  /**
   * Run the bundled graph networks in int8 (src/backbone/quantize.ts) with these measured activation ranges
   * (`FeatureExtractor.calibrate`); absent = float. The Keras network has unfolded batch norms and stays float.
   */
  readonly activationRanges?: ActivationRanges;
}

/** Bumped when the generated ONNX changes for the same spec, so stale cache files are not reused. */
const CONVERTER_VERSION = 4;

export interface FeatureExtractorInfo {
  readonly spec: FeatureSpec;
  readonly channels: number;
  /** Stride of the feature map relative to the network input. */
  readonly stride: number;
  /** Network input sides must be multiples of this. */
  readonly sizeMultiple: number;
  /** sha256 of the generated ONNX graph (with a custom backbone: of its file and the generated head). */
  readonly digest: string;
  /** The validated custom backbone (digest and layers filled in). */
  readonly custom?: ValidatedBackbone;
}

export interface FeatureMap {
  /** Row-major [h*w, channels]. */
  readonly data: Float32Array;
  readonly h: number;
  readonly w: number;
  readonly channels: number;
}

export function defaultCacheDir(): string {
  return process.env.VIGIL_ENGINE_CACHE ?? join(tmpdir(), 'vigil-engine-cache');
}

export function describeSpec(spec: FeatureSpec): Omit<FeatureExtractorInfo, 'digest'> {
  let channels = 0;
  let stride = Infinity;
  let sizeMultiple = 1;
  for (const id of spec.backbones) {
    const b = BUILTIN_BACKBONES[id];
    if (!b) throw errors.badInput(`unknown backbone '${id}'`);
    for (const d of spec.layers) {
      const l = b.layers[d];
      if (!l) throw errors.badInput(`unknown layer depth '${d}'`);
      channels += l.channels;
      stride = Math.min(stride, l.stride);
      sizeMultiple = Math.max(sizeMultiple, l.stride);
    }
  }
  if (spec.backbones.length === 0 || spec.layers.length === 0) throw errors.badInput('a feature spec needs layers');
  if (spec.aggregation < 1 || spec.aggregation % 2 !== 1) throw errors.badInput('aggregation must be an odd size');
  return { spec, channels, stride, sizeMultiple };
}

function nsfwjsVersion(): string {
  const loadCjs = createRequire(__filename);
  const entry = loadCjs.resolve('nsfwjs');
  // entry is <pkg>/dist/cjs/index.js
  const pkg = JSON.parse(readFileSync(join(dirname(dirname(dirname(entry))), 'package.json'), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
}

function prefixBody(nodes: NodeDef[], inits: TensorInit[], prefix: string): { nodes: NodeDef[]; inits: TensorInit[] } {
  const rename = (n: string): string => (n === 'image' || n === '' ? n : `${prefix}${n}`);
  return {
    nodes: nodes.map((n) => ({ ...n, inputs: n.inputs.map(rename), outputs: n.outputs.map(rename) })),
    inits: inits.map((t) => ({ ...t, name: rename(t.name) })),
  };
}

/** Aggregation (k x k mean), upsampling to `stride` and the channel concat of NCHW feature tensors. */
function headNodes(
  sources: readonly { name: string; stride: number }[],
  aggregation: number,
  stride: number,
  nodes: NodeDef[],
  inits: TensorInit[],
): void {
  const parts = sources.map((src) => aggregateNodes(src, aggregation, stride, nodes, inits));
  concatNodes(parts, nodes);
}

function concatNodes(parts: readonly string[], nodes: NodeDef[]): void {
  nodes.push({ op: 'Concat', inputs: parts, outputs: ['concat'], attrs: { axis: attr.int(1) } });
  nodes.push({ op: 'Transpose', inputs: ['concat'], outputs: ['features'], attrs: { perm: attr.ints([0, 2, 3, 1]) } });
}

/** One feature tensor's aggregation and upsampling; returns the name of the result. */
function aggregateNodes(
  source: { name: string; stride: number },
  aggregation: number,
  stride: number,
  nodes: NodeDef[],
  inits: TensorInit[],
): string {
  const pad = (aggregation - 1) / 2;
  const { name: src, stride: s } = source;
  {
    let cur = src;
    if (aggregation > 1) {
      cur = `${src}/agg`;
      nodes.push({
        op: 'AveragePool',
        inputs: [src],
        outputs: [cur],
        attrs: {
          kernel_shape: attr.ints([aggregation, aggregation]),
          pads: attr.ints([pad, pad, pad, pad]),
          strides: attr.ints([1, 1]),
          count_include_pad: attr.int(0),
        },
      });
    }
    if (s !== stride) {
      const f = s / stride;
      const scales = `${src}/scales`;
      inits.push(floatTensor(scales, [4], Float32Array.of(1, 1, f, f)));
      nodes.push({
        op: 'Resize',
        inputs: [cur, '', scales],
        outputs: [`${src}/up`],
        attrs: { mode: attr.string('linear'), coordinate_transformation_mode: attr.string('half_pixel') },
      });
      cur = `${src}/up`;
    }
    return cur;
  }
}

/** The head run after a custom backbone: inputs f0..fn (its feature tensors), output `features`. */
export function buildHeadGraph(
  layers: readonly { stride: number; channels: number }[],
  aggregation: number,
): Uint8Array {
  const nodes: NodeDef[] = [];
  const inits: TensorInit[] = [];
  const stride = Math.min(...layers.map((l) => l.stride));
  headNodes(
    layers.map((l, i) => ({ name: `f${i}`, stride: l.stride })),
    aggregation,
    stride,
    nodes,
    inits,
  );
  return encodeModel({
    name: 'vigil-feature-head',
    nodes,
    initializers: inits,
    inputs: layers.map((l, i) => ({ name: `f${i}`, type: DataType.FLOAT, shape: [1, l.channels, `h${i}`, `w${i}`] })),
    outputs: [
      { name: 'features', type: DataType.FLOAT, shape: [1, 'h', 'w', layers.reduce((a, l) => a + l.channels, 0)] },
    ],
  });
}

/** Builds the whole feature graph: backbone bodies, aggregation, upsampling to the finest stride, concat. */
export function buildFeatureGraph(spec: FeatureSpec): Uint8Array {
  const { nodes, inits, info } = featureGraphParts(spec);
  return encodeModel({
    name: `vigil-features-${spec.backbones.join('+')}`,
    nodes,
    initializers: inits,
    inputs: [{ name: 'image', type: DataType.FLOAT, shape: [1, 3, 'H', 'W'] }],
    outputs: [{ name: 'features', type: DataType.FLOAT, shape: [1, 'h', 'w', info.channels] }],
  });
}

/** The feature graph's nodes and initializers (input `image` [1,3,H,W], output `features` [1,h,w,C]). */
export function featureGraphParts(spec: FeatureSpec): {
  nodes: NodeDef[];
  inits: TensorInit[];
  info: Omit<FeatureExtractorInfo, 'digest'>;
  /** The tensors int8 needs measured ranges of (those of the quantizable bodies), whatever `spec` says. */
  calibration: string[];
} {
  const info = describeSpec(spec);
  const nodes: NodeDef[] = [];
  const inits: TensorInit[] = [];
  const parts: string[] = [];
  const calibration: string[] = [];
  for (const id of spec.backbones) {
    const b = BUILTIN_BACKBONES[id];
    const bundle = loadTfjsBundle(nsfwjsModelDir(b.nsfwjsModel));
    const names = spec.layers.map((d) => b.layers[d].name);
    const body = b.kind === 'graph' ? convertGraphModel(bundle, names, b.prefix) : convertLayersModel(bundle, names);
    let p: { nodes: NodeDef[]; inits: TensorInit[]; read?: (tensor: string) => string } = prefixBody(
      body.nodes,
      body.initializers,
      `${id}/`,
    );
    if (b.kind === 'graph') {
      calibration.push(...calibrationTensors(p.nodes));
      if (spec.activationRanges) {
        const features = spec.layers.map((d) => `${id}/${b.layers[d].name}`);
        p = quantizeBody(p.nodes, p.inits, spec.activationRanges, features);
      }
    }
    nodes.push(...p.nodes);
    inits.push(...p.inits);
    const read = p.read ?? ((t: string): string => t);
    for (const d of spec.layers)
      parts.push(
        aggregateNodes(
          { name: read(`${id}/${b.layers[d].name}`), stride: b.layers[d].stride },
          spec.aggregation,
          info.stride,
          nodes,
          inits,
        ),
      );
  }
  concatNodes(parts, nodes);
  return { nodes, inits, info, calibration };
}

/**
 * The tensors `FeatureExtractor.calibrate` measures for a spec, by networks and layers (they do not depend on the
 * aggregation): finding them converts the networks, ~40-150 ms, and the automatic configuration calibrates each
 * of its candidates.
 */
const calibrationNames = new Map<string, readonly string[]>();
function calibrationTensorsOf(spec: FeatureSpec): readonly string[] {
  const key = JSON.stringify([spec.backbones, spec.layers]);
  let names = calibrationNames.get(key);
  if (!names) {
    names = featureGraphParts(spec).calibration;
    calibrationNames.set(key, names);
  }
  return names;
}

/** Returns the feature graph for a spec, converting it once and caching it under cacheDir. */
export function featureGraphBytes(spec: FeatureSpec, cacheDir = defaultCacheDir()): Uint8Array {
  const key = createHash('sha256')
    .update(JSON.stringify({ spec, v: CONVERTER_VERSION, nsfwjs: nsfwjsVersion() }))
    .digest('hex')
    .slice(0, 24);
  const file = join(cacheDir, `features-${key}.onnx`);
  if (existsSync(file)) {
    try {
      return readFileSync(file);
    } catch {
      // fall through and rebuild
    }
  }
  const bytes = buildFeatureGraph(spec);
  try {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  } catch {
    // A read-only cache only costs a conversion per process.
  }
  return bytes;
}

export function sessionOptions(threads: number): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: Math.max(1, threads),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    // The memory pattern pre-plans one block per input shape and keeps it: ~40% more peak memory for a 512 px
    // input (136 vs 93 MB) at the same CPU time per image (measured), and the selection runs several shapes.
    enableMemPattern: false,
    logSeverityLevel: 3,
    // Spinning worker threads starve sharp's decoder threads on a 2-core machine.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

interface CustomParts {
  readonly backbone: LoadedCustomBackbone;
  readonly scale: Float32Array;
  readonly shift: Float32Array;
}

export class FeatureExtractor {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly info: FeatureExtractorInfo,
    private readonly custom?: CustomParts,
  ) {}

  static async create(
    spec: FeatureSpec,
    opts: { cacheDir?: string; threads?: number } = {},
  ): Promise<FeatureExtractor> {
    if (spec.custom) return FeatureExtractor.createCustom(spec, spec.custom, opts.threads ?? 2);
    const base = describeSpec(spec);
    const bytes = featureGraphBytes(spec, opts.cacheDir);
    const digest = createHash('sha256').update(bytes).digest('hex');
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, sessionOptions(opts.threads ?? 2));
    } catch (cause) {
      throw errors.internal('could not load the backbone graph', cause);
    }
    return new FeatureExtractor(session, { ...base, digest });
  }

  /**
   * Measures the activation ranges an int8 `spec` needs: runs the float graph on `inputs` (planar RGB 0..1, as
   * `run` takes them) and records each quantizable tensor's range (`recordedRange`). Empty for a spec with
   * nothing to quantize (a custom or Keras-only backbone).
   */
  static async calibrate(
    spec: FeatureSpec,
    inputs: AsyncIterable<{ tensor: Float32Array; netH: number; netW: number }>,
    opts: { cacheDir?: string; threads?: number } = {},
  ): Promise<ActivationRanges> {
    if (spec.custom) return {};
    const float: FeatureSpec = { ...spec, activationRanges: undefined };
    const calibration = calibrationTensorsOf(float);
    if (!calibration.length) return {};
    const bytes = appendGraphOutputs(featureGraphBytes(float, opts.cacheDir), calibration);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, sessionOptions(opts.threads ?? 2));
    } catch (cause) {
      throw errors.internal('could not load the backbone graph for calibration', cause);
    }
    const lo = new Float64Array(calibration.length);
    const hi = new Float64Array(calibration.length);
    let seen = 0;
    try {
      for await (const x of inputs) {
        const out = await session.run({ image: new ort.Tensor('float32', x.tensor, [1, 3, x.netH, x.netW]) });
        calibration.forEach((name, k) => {
          const data = out[name]?.data as Float32Array | undefined;
          if (!data) throw errors.internal(`calibration output '${name}' is missing`);
          let l = lo[k] as number;
          let h = hi[k] as number;
          for (let i = 0; i < data.length; i++) {
            const v = data[i] as number;
            if (v < l) l = v;
            else if (v > h) h = v;
          }
          lo[k] = l;
          hi[k] = h;
        });
        seen++;
      }
    } finally {
      await session.release();
    }
    if (!seen) throw errors.badInput('int8 calibration needs at least one image');
    return Object.fromEntries(calibration.map((name, k) => [name, recordedRange(lo[k] as number, hi[k] as number)]));
  }

  private static async createCustom(
    spec: FeatureSpec,
    custom: CustomBackbone,
    threads: number,
  ): Promise<FeatureExtractor> {
    if (spec.aggregation < 1 || spec.aggregation % 2 !== 1) throw errors.badInput('aggregation must be an odd size');
    const backbone = await loadCustomBackbone(custom, sessionOptions(threads));
    try {
      const { layers } = backbone.spec;
      const head = buildHeadGraph(layers, spec.aggregation);
      const digest = createHash('sha256').update(backbone.spec.digest).update(head).digest('hex');
      const session = await ort.InferenceSession.create(head, sessionOptions(threads));
      const stride = Math.min(...layers.map((l) => l.stride));
      const fixed = custom.inputSize !== undefined;
      return new FeatureExtractor(
        session,
        {
          spec: { ...spec, custom: backbone.spec },
          channels: layers.reduce((a, l) => a + l.channels, 0),
          stride,
          sizeMultiple: fixed ? 1 : Math.max(...layers.map((l) => l.stride)),
          digest,
          custom: backbone.spec,
        },
        {
          backbone,
          scale: Float32Array.from(custom.std, (s) => 1 / s),
          shift: Float32Array.from(custom.mean, (m, i) => -m / (custom.std[i] as number)),
        },
      );
    } catch (e) {
      await backbone.session.release();
      throw e;
    }
  }

  /** `image` is planar RGB [3,h,w] in 0..1; h and w multiples of info.sizeMultiple. */
  async run(image: Float32Array, h: number, w: number): Promise<FeatureMap> {
    if (h % this.info.sizeMultiple || w % this.info.sizeMultiple) {
      throw errors.internal(`network input ${w}x${h} is not a multiple of ${this.info.sizeMultiple}`);
    }
    const out = this.custom
      ? await this.runCustom(this.custom, image, h, w)
      : await this.session.run({ image: new ort.Tensor('float32', image, [1, 3, h, w]) });
    const t = out.features;
    if (!t) throw errors.internal('backbone produced no features');
    const [, fh = 0, fw = 0, c = 0] = t.dims;
    return { data: t.data as Float32Array, h: fh, w: fw, channels: c };
  }

  private async runCustom(
    c: CustomParts,
    image: Float32Array,
    h: number,
    w: number,
  ): Promise<ort.InferenceSession.OnnxValueMapType> {
    const n = h * w;
    const x = new Float32Array(image.length);
    for (let ch = 0; ch < 3; ch++) {
      const a = c.scale[ch] as number;
      const b = c.shift[ch] as number;
      for (let i = ch * n; i < (ch + 1) * n; i++) x[i] = (image[i] as number) * a + b;
    }
    const { spec, session } = c.backbone;
    const feats = await session.run({ [spec.inputName]: new ort.Tensor('float32', x, [1, 3, h, w]) }, [
      ...spec.featureNodes,
    ]);
    const feeds: Record<string, ort.Tensor> = {};
    spec.featureNodes.forEach((name, i) => {
      feeds[`f${i}`] = feats[name] as ort.Tensor;
    });
    return this.session.run(feeds);
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.custom) await this.custom.backbone.session.release();
  }
}
