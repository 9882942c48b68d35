import { errors } from '@vigil/contracts';
import { attr, DataType, floatTensor, type NodeDef, type TensorInit } from '../onnx/proto';

/**
 * Static int8 quantization of a converted backbone body, in ONNX's QDQ form: every quantized activation is
 * followed by QuantizeLinear + DequantizeLinear, and every quantized convolution reads int8 per-channel weights
 * and an int32 bias through DequantizeLinear. onnxruntime's optimiser fuses `DQ -> Conv -> (Relu6) -> Q` into
 * QLinearConv and `DQ, DQ -> Add -> Q` into QLinearAdd, which run on the CPU's integer dot-product units
 * (AVX-512 VNNI / AVX2): on this host the default backbone runs in 5.6 instead of 10.9 ms per 256 px image.
 *
 * Which tensors are quantized: the outputs of Relu6 (Clip to [0, 6]: their range is known, scale 6/255), of
 * convolutions with no activation (MobileNetV2's linear bottlenecks) and of residual additions (ranges measured
 * on the project's own images, see `calibrationTensors`). A convolution is quantized when its input is; the
 * first one reads the normalised image in float, so the image itself is never rounded. Everything else (the
 * aggregation head, and any op this pass does not know) reads dequantized floats, so the graph stays correct
 * whatever it contains and only the recognised pattern gets faster.
 */

/** Measured activation ranges, by tensor name: `[min, max]` over the calibration images. */
export type ActivationRanges = Readonly<Record<string, readonly [number, number]>>;

const RELU6 = { lo: 0, hi: 6 };

type Kind = 'relu6' | 'measured';

/** Which tensors of a body are quantized, and how their range is known. */
function quantizedTensors(nodes: readonly NodeDef[]): Map<string, Kind> {
  const consumers = new Map<string, NodeDef[]>();
  for (const n of nodes)
    for (const i of n.inputs) {
      const list = consumers.get(i) ?? [];
      list.push(n);
      consumers.set(i, list);
    }
  const kinds = new Map<string, Kind>();
  for (const n of nodes) {
    const out = n.outputs[0] ?? '';
    const readers = consumers.get(out) ?? [];
    if (n.op === 'Clip' && isRelu6(n)) kinds.set(out, 'relu6');
    else if (n.op === 'Add' && n.inputs.every((i) => kinds.has(i))) kinds.set(out, 'measured');
    // A linear convolution (no Relu6 after it) that reads a quantized tensor: MobileNetV2's bottleneck projection.
    else if (n.op === 'Conv' && kinds.has(n.inputs[0] ?? '') && readers.length && !readers.some((r) => r.op === 'Clip'))
      kinds.set(out, 'measured');
  }
  return kinds;
}

function isRelu6(n: NodeDef): boolean {
  return /relu6_min$/.test(n.inputs[1] ?? '') && /relu6_max$/.test(n.inputs[2] ?? '');
}

/** The tensors whose range must be measured before `quantizeBody` can run. */
export function calibrationTensors(nodes: readonly NodeDef[]): string[] {
  return [...quantizedTensors(nodes)].filter(([, k]) => k === 'measured').map(([name]) => name);
}

/**
 * The range recorded for a measured tensor: 10% of headroom (a defect may excite a unit harder than any normal
 * image did; beyond the range it saturates), rounded outwards to 3 significant digits so that float noise in
 * the measurement (thread count, kernel choice) cannot change the model.
 */
export function recordedRange(min: number, max: number): readonly [number, number] {
  const outwards = (v: number, up: boolean): number => {
    if (v === 0) return 0;
    const k = 2 - Math.floor(Math.log10(Math.abs(v)));
    const scaled = v * 10 ** k;
    // The product is rounded too (2 x 1.1 is 2.2000000000000002): a millionth of slack keeps 2.2 at 2.2.
    const slack = 1e-6 * Math.abs(scaled);
    return (up ? Math.ceil(scaled - slack) : Math.floor(scaled + slack)) / 10 ** k;
  };
  const lo = outwards(Math.min(0, min * 1.1), false);
  const hi = outwards(Math.max(0, max * 1.1), true);
  return [lo, hi > lo ? hi : lo + 1e-3];
}

/** uint8 asymmetric parameters covering [lo, hi] (which always contains 0, so 0 is exact). */
function uint8Params(lo: number, hi: number): { scale: number; zeroPoint: number } {
  const l = Math.min(0, lo);
  const h = Math.max(0, hi);
  const scale = h > l ? (h - l) / 255 : 1;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-l / scale))) };
}

function floatsOf(t: TensorInit): Float32Array {
  return new Float32Array(t.raw.buffer.slice(t.raw.byteOffset, t.raw.byteOffset + t.raw.byteLength));
}

function rawTensor(name: string, dims: readonly number[], type: DataType, data: ArrayBufferView): TensorInit {
  return { name, dims, type, raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * Rewrites a body (nodes and initializers) into QDQ form with the given measured ranges. `read` names the tensor
 * that later nodes must read in place of a body tensor: a quantized tensor's float producer may feed nothing but
 * its QuantizeLinear, or onnxruntime cannot fuse the producer into an integer kernel. For the `features` (the
 * tensors the head aggregates), a residual sum is computed a second time in float from its dequantized inputs
 * (the fused integer sum still feeds the next block), so the patch features skip the last rounding to 8 bits:
 * synthetic cast, 100 normals, fixed settings, image AUROC 0.803 with the rounded sums, 0.826 with the float
 * ones, 0.830 all in float.
 */
export function quantizeBody(
  nodes: readonly NodeDef[],
  inits: readonly TensorInit[],
  ranges: ActivationRanges,
  features: readonly string[] = [],
): { nodes: NodeDef[]; inits: TensorInit[]; read: (tensor: string) => string } {
  const kinds = quantizedTensors(nodes);
  const params = new Map<string, { scale: number; zeroPoint: number }>();
  for (const [name, kind] of kinds) {
    if (kind === 'relu6') {
      params.set(name, uint8Params(RELU6.lo, RELU6.hi));
      continue;
    }
    const r = ranges[name];
    if (!r) throw errors.internal(`no activation range was measured for '${name}'`);
    params.set(name, uint8Params(r[0], r[1]));
  }
  const byName = new Map(inits.map((t) => [t.name, t]));
  const outNodes: NodeDef[] = [];
  const outInits: TensorInit[] = [...inits];
  const dequantized = (t: string): string => (params.has(t) ? `${t}/dq` : t);
  const exact = new Set<string>();
  const read = (t: string): string => (exact.has(t) ? `${t}/float` : dequantized(t));
  for (const n of nodes) {
    const x = n.inputs[0] ?? '';
    if (n.op === 'Conv' && params.has(x)) {
      outNodes.push(...quantizedConv(n, params.get(x)?.scale ?? 1, byName, outInits, dequantized));
    } else {
      outNodes.push({ ...n, inputs: n.inputs.map(dequantized) });
    }
    const out = n.outputs[0] ?? '';
    if (n.op === 'Add' && params.has(out) && features.includes(out)) {
      outNodes.push({ op: 'Add', inputs: n.inputs.map(dequantized), outputs: [`${out}/float`] });
      exact.add(out);
    }
    for (const o of n.outputs) {
      const p = params.get(o);
      if (!p) continue;
      outInits.push(
        floatTensor(`${o}/scale`, [], Float32Array.of(p.scale)),
        rawTensor(`${o}/zero`, [], DataType.UINT8, Uint8Array.of(p.zeroPoint)),
      );
      outNodes.push(
        { op: 'QuantizeLinear', inputs: [o, `${o}/scale`, `${o}/zero`], outputs: [`${o}/q`] },
        { op: 'DequantizeLinear', inputs: [`${o}/q`, `${o}/scale`, `${o}/zero`], outputs: [`${o}/dq`] },
      );
    }
  }
  return { nodes: outNodes, inits: outInits, read };
}

/** A convolution reading int8 per-output-channel weights and an int32 bias (scale = input scale x weight scale). */
function quantizedConv(
  n: NodeDef,
  inputScale: number,
  byName: ReadonlyMap<string, TensorInit>,
  outInits: TensorInit[],
  read: (t: string) => string,
): NodeDef[] {
  const [x = '', wName = '', bName] = n.inputs;
  const w = byName.get(wName);
  if (!w) throw errors.internal(`convolution '${n.outputs[0]}' has no constant weights`);
  const wf = floatsOf(w);
  const out = w.dims[0] ?? 1;
  const per = wf.length / out;
  const wScale = new Float32Array(out);
  const wq = new Int8Array(wf.length);
  for (let c = 0; c < out; c++) {
    let m = 0;
    for (let i = 0; i < per; i++) m = Math.max(m, Math.abs(wf[c * per + i] as number));
    const s = m > 0 ? m / 127 : 1;
    wScale[c] = s;
    for (let i = 0; i < per; i++)
      wq[c * per + i] = Math.max(-127, Math.min(127, Math.round((wf[c * per + i] as number) / s)));
  }
  const perAxis = { axis: attr.int(0) };
  outInits.push(
    rawTensor(`${wName}/q`, w.dims, DataType.INT8, wq),
    floatTensor(`${wName}/scale`, [out], wScale),
    rawTensor(`${wName}/zero`, [out], DataType.INT8, new Int8Array(out)),
  );
  const nodes: NodeDef[] = [
    {
      op: 'DequantizeLinear',
      inputs: [`${wName}/q`, `${wName}/scale`, `${wName}/zero`],
      outputs: [`${wName}/dq`],
      attrs: perAxis,
    },
  ];
  const inputs = [read(x), `${wName}/dq`];
  if (bName) {
    const b = byName.get(bName);
    if (!b) throw errors.internal(`convolution '${n.outputs[0]}' has no constant bias`);
    const bScale = Float32Array.from(wScale, (s) => s * inputScale);
    const bq = Int32Array.from(floatsOf(b), (v, i) => Math.round(v / (bScale[i] as number)));
    outInits.push(
      rawTensor(`${bName}/q`, [out], DataType.INT32, bq),
      floatTensor(`${bName}/scale`, [out], bScale),
      rawTensor(`${bName}/zero`, [out], DataType.INT32, new Int32Array(out)),
    );
    nodes.push({
      op: 'DequantizeLinear',
      inputs: [`${bName}/q`, `${bName}/scale`, `${bName}/zero`],
      outputs: [`${bName}/dq`],
      attrs: perAxis,
    });
    inputs.push(`${bName}/dq`);
  }
  nodes.push({ ...n, inputs });
  return nodes;
}
