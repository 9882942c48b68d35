import { errors } from '@vigil/contracts';
import { attr, floatTensor, type NodeDef, type TensorInit, int64Tensor } from '../onnx/proto';
import { type TfjsBundle } from './tfjs-weights';

/** The body of a backbone as ONNX nodes, NCHW, reading the graph input `image` ([1,3,H,W], values 0..1). */
export interface ConvertedBody {
  readonly nodes: NodeDef[];
  readonly initializers: TensorInit[];
  /** Requested feature name -> ONNX tensor name. */
  readonly outputs: ReadonlyMap<string, string>;
}

const IMAGE = 'image';

function weight(bundle: TfjsBundle, name: string): { shape: readonly number[]; data: Float32Array } {
  const w = bundle.weights.get(name);
  if (!w) throw errors.internal(`backbone weight '${name}' is missing`);
  return w;
}

/** TF conv filter HWIO -> ONNX OIHW. */
function hwioToOihw(shape: readonly number[], data: Float32Array): { dims: number[]; data: Float32Array } {
  const [kh = 1, kw = 1, ci = 1, co = 1] = shape;
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++)
          out[((o * ci + i) * kh + y) * kw + x] = data[((y * kw + x) * ci + i) * co + o] ?? 0;
  return { dims: [co, ci, kh, kw], data: out };
}

/** TF depthwise filter [kh,kw,C,mult] -> ONNX [C*mult,1,kh,kw] for group=C. */
function depthwiseToOnnx(
  shape: readonly number[],
  data: Float32Array,
): { dims: number[]; data: Float32Array; c: number } {
  const [kh = 1, kw = 1, c = 1, m = 1] = shape;
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < c; i++)
        for (let j = 0; j < m; j++) out[(i * m + j) * kh * kw + y * kw + x] = data[((y * kw + x) * c + i) * m + j] ?? 0;
  return { dims: [c * m, 1, kh, kw], data: out, c };
}

function relu6(nodes: NodeDef[], inits: TensorInit[], input: string, output: string): void {
  if (!inits.some((t) => t.name === 'relu6_min')) {
    inits.push(floatTensor('relu6_min', [], Float32Array.of(0)), floatTensor('relu6_max', [], Float32Array.of(6)));
  }
  nodes.push({ op: 'Clip', inputs: [input, 'relu6_min', 'relu6_max'], outputs: [output] });
}

/** Walks back from the wanted tensors so that only the layers they need are converted. */
function needed<T>(wanted: readonly string[], inputsOf: (n: string) => readonly string[] | undefined): Set<string> {
  const keep = new Set<string>();
  const stack = [...wanted];
  while (stack.length) {
    const n = stack.pop() as string;
    if (keep.has(n)) continue;
    keep.add(n);
    for (const i of inputsOf(n) ?? []) stack.push(i);
  }
  return keep as Set<string> & Set<T>;
}

interface GraphNode {
  readonly name: string;
  readonly op: string;
  readonly input?: readonly string[];
  readonly attr?: Record<string, { list?: { i?: string[]; s?: string[] }; s?: string; i?: string; f?: number }>;
}

const decode64 = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/** Converts a TFJS *graph model* (as the TF-Hub MobileNetV2 in nsfwjs) to ONNX nodes. */
export function convertGraphModel(bundle: TfjsBundle, features: readonly string[], prefix: string): ConvertedBody {
  const topo = bundle.topology as { node?: GraphNode[] };
  const all = topo.node ?? [];
  const short = (n: string): string => {
    const clean = n.split(':')[0] ?? n;
    const i = clean.lastIndexOf(prefix);
    return i >= 0 ? clean.slice(i + prefix.length) : clean;
  };
  const byName = new Map(all.map((n) => [short(n.name), n]));
  for (const f of features) if (!byName.has(f)) throw errors.internal(`backbone has no node '${f}'`);
  const keep = needed<string>(features, (n) => byName.get(n)?.input?.map(short));

  const nodes: NodeDef[] = [];
  const inits: TensorInit[] = [];
  const tname = (n: string): string => (byName.get(n)?.op === 'Placeholder' ? IMAGE : n);
  for (const n of all) {
    const name = short(n.name);
    if (!keep.has(name)) continue;
    const inputs = (n.input ?? []).map(short);
    switch (n.op) {
      case 'Placeholder':
        break;
      case 'Const':
        // Constants become initializers where an element-wise op reads them; convs re-layout their own.
        break;
      case 'Mul':
      case 'Sub':
      case 'AddV2':
      case 'Add': {
        const op = n.op === 'AddV2' ? 'Add' : n.op;
        for (const i of inputs) {
          const src = byName.get(i);
          if (src?.op === 'Const' && !inits.some((t) => t.name === i)) {
            const w = weight(bundle, src.name);
            inits.push(floatTensor(i, w.shape, w.data));
          }
        }
        nodes.push({ op, inputs: inputs.map(tname), outputs: [name] });
        break;
      }
      case 'Relu6':
        relu6(nodes, inits, tname(inputs[0] ?? ''), name);
        break;
      case '_FusedConv2D':
      case 'FusedDepthwiseConv2dNative':
      case 'Conv2D':
      case 'DepthwiseConv2dNative': {
        const a = n.attr ?? {};
        const strides = (a.strides?.list?.i ?? ['1', '1', '1', '1']).map(Number);
        const dil = (a.dilations?.list?.i ?? ['1', '1', '1', '1']).map(Number);
        const padding = decode64(a.padding?.s);
        const fused = (a.fused_ops?.list?.s ?? []).map(decode64);
        if (decode64(a.data_format?.s) !== 'NHWC' && a.data_format) throw errors.internal('only NHWC graphs convert');
        const filterName = inputs[1] ?? '';
        const filter = weight(bundle, byName.get(filterName)?.name ?? filterName);
        const depthwise = n.op.includes('Depthwise');
        const w = depthwise ? depthwiseToOnnx(filter.shape, filter.data) : hwioToOihw(filter.shape, filter.data);
        inits.push(floatTensor(`${name}/W`, w.dims, w.data));
        const convInputs = [tname(inputs[0] ?? ''), `${name}/W`];
        if (fused.includes('BiasAdd')) {
          const b = weight(bundle, byName.get(inputs[2] ?? '')?.name ?? '');
          inits.push(floatTensor(`${name}/B`, [b.data.length], b.data));
          convInputs.push(`${name}/B`);
        }
        const out = fused.includes('Relu6') || fused.includes('Relu') ? `${name}/pre` : name;
        nodes.push({
          op: 'Conv',
          inputs: convInputs,
          outputs: [out],
          attrs: {
            strides: attr.ints([strides[1] ?? 1, strides[2] ?? 1]),
            dilations: attr.ints([dil[1] ?? 1, dil[2] ?? 1]),
            kernel_shape: attr.ints([w.dims[2] ?? 1, w.dims[3] ?? 1]),
            group: attr.int(depthwise ? (filter.shape[2] ?? 1) : 1),
            auto_pad: attr.string(padding === 'SAME' ? 'SAME_UPPER' : 'VALID'),
          },
        });
        if (fused.includes('Relu6')) relu6(nodes, inits, out, name);
        else if (fused.includes('Relu')) nodes.push({ op: 'Relu', inputs: [out], outputs: [name] });
        break;
      }
      default:
        throw errors.internal(`cannot convert TF op ${n.op} (${name})`);
    }
  }
  return { nodes, initializers: inits, outputs: new Map(features.map((f) => [f, f])) };
}

interface KerasLayer {
  readonly name: string;
  readonly class_name: string;
  readonly config: Record<string, unknown>;
  readonly inbound_nodes: unknown;
}

function kerasInputs(layer: KerasLayer): string[] {
  const inbound = layer.inbound_nodes as [string, number, number][][] | undefined;
  return (inbound?.[0] ?? []).map((x) => x[0]);
}

/** Converts a TFJS *Keras layers model* (as the Keras MobileNetV2 in nsfwjs) to ONNX nodes. */
export function convertLayersModel(bundle: TfjsBundle, features: readonly string[]): ConvertedBody {
  const topo = bundle.topology as { model_config?: { config?: { layers?: KerasLayer[] } } };
  const layers = topo.model_config?.config?.layers ?? [];
  const byName = new Map(layers.map((l) => [l.name, l]));
  for (const f of features) if (!byName.has(f)) throw errors.internal(`backbone has no layer '${f}'`);
  const keep = needed<string>(features, (n) => {
    const l = byName.get(n);
    return l ? kerasInputs(l) : undefined;
  });
  const nodes: NodeDef[] = [];
  const inits: TensorInit[] = [];
  const tname = (n: string): string => (byName.get(n)?.class_name === 'InputLayer' ? IMAGE : n);
  for (const l of layers) {
    if (!keep.has(l.name)) continue;
    const c = l.config;
    const ins = kerasInputs(l).map(tname);
    const x = ins[0] ?? '';
    switch (l.class_name) {
      case 'InputLayer':
        break;
      case 'ZeroPadding2D': {
        const p = c.padding as [[number, number], [number, number]];
        inits.push(int64Tensor(`${l.name}/pads`, [8], [0, 0, p[0][0], p[1][0], 0, 0, p[0][1], p[1][1]]));
        nodes.push({ op: 'Pad', inputs: [x, `${l.name}/pads`], outputs: [l.name] });
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const depthwise = l.class_name === 'DepthwiseConv2D';
        const k = weight(bundle, `${l.name}/${depthwise ? 'depthwise_kernel' : 'kernel'}`);
        const w = depthwise ? depthwiseToOnnx(k.shape, k.data) : hwioToOihw(k.shape, k.data);
        inits.push(floatTensor(`${l.name}/W`, w.dims, w.data));
        const convIn = [x, `${l.name}/W`];
        if (c.use_bias) {
          const b = weight(bundle, `${l.name}/bias`);
          inits.push(floatTensor(`${l.name}/B`, [b.data.length], b.data));
          convIn.push(`${l.name}/B`);
        }
        const strides = c.strides as number[];
        const dil = c.dilation_rate as number[];
        if (c.activation !== 'linear') throw errors.internal(`unsupported activation in ${l.name}`);
        nodes.push({
          op: 'Conv',
          inputs: convIn,
          outputs: [l.name],
          attrs: {
            strides: attr.ints(strides),
            dilations: attr.ints(dil),
            kernel_shape: attr.ints([w.dims[2] ?? 1, w.dims[3] ?? 1]),
            group: attr.int(depthwise ? (k.shape[2] ?? 1) : 1),
            auto_pad: attr.string(c.padding === 'same' ? 'SAME_UPPER' : 'VALID'),
          },
        });
        break;
      }
      case 'BatchNormalization': {
        const ch = weight(bundle, `${l.name}/moving_mean`).data.length;
        const param = (p: string, fallback: number): string => {
          const full = `${l.name}/${p}`;
          const data = bundle.weights.get(full)?.data ?? new Float32Array(ch).fill(fallback);
          inits.push(floatTensor(full, [ch], data));
          return full;
        };
        nodes.push({
          op: 'BatchNormalization',
          inputs: [x, param('gamma', 1), param('beta', 0), param('moving_mean', 0), param('moving_variance', 1)],
          outputs: [l.name],
          attrs: { epsilon: attr.float(Number(c.epsilon ?? 1e-3)) },
        });
        break;
      }
      case 'ReLU':
        if (c.max_value === 6) relu6(nodes, inits, x, l.name);
        else nodes.push({ op: 'Relu', inputs: [x], outputs: [l.name] });
        break;
      case 'Add':
        nodes.push({ op: 'Add', inputs: ins, outputs: [l.name] });
        break;
      default:
        throw errors.internal(`cannot convert Keras layer ${l.class_name} (${l.name})`);
    }
  }
  return { nodes, initializers: inits, outputs: new Map(features.map((f) => [f, f])) };
}
