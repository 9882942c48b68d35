import * as ort from 'onnxruntime-node';
import { errors } from '@vigil/contracts';
import { sessionOptions } from './backbone/features';
import { attr, DataType, encodeModel, floatTensor, int64Tensor, type NodeDef, type TensorInit } from './onnx/proto';

/**
 * Distance and selection maths as small ONNX graphs run by onnxruntime, so the heavy loops run
 * in its BLAS kernels rather than in JavaScript.
 */

async function createSession(
  name: string,
  nodes: NodeDef[],
  initializers: TensorInit[],
  inputs: { name: string; type: DataType; shape: (number | string)[] }[],
  outputs: { name: string; type: DataType; shape: (number | string)[] }[],
  threads: number,
): Promise<ort.InferenceSession> {
  const bytes = encodeModel({ name, nodes, initializers, inputs, outputs });
  try {
    return await ort.InferenceSession.create(bytes, sessionOptions(threads));
  } catch (cause) {
    throw errors.internal(`could not build the ${name} kernel`, cause);
  }
}

function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[o + c] as number;
  }
  return out;
}

function rowNorms(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    const o = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = data[o + c] as number;
      s += v * v;
    }
    out[r] = s;
  }
  return out;
}

/**
 * Nodes computing squared distances minus the query norm, D [n,m] = -2·QBᵀ + ‖b‖², from input Q [n,d] to a
 * fixed bank. The -2 is folded into the initializer (exact: a power of two), so MatMul + Add fuse into one
 * Gemm with a single [n,m] intermediate.
 */
function distanceNodes(q: string, out: string): NodeDef[] {
  return [
    { op: 'MatMul', inputs: [q, 'BTm2'], outputs: ['qb2'] },
    { op: 'Add', inputs: ['qb2', 'bn'], outputs: [out] },
  ];
}

function bankInits(bank: Float32Array, m: number, d: number): TensorInit[] {
  const bt = transpose(bank, m, d);
  for (let i = 0; i < bt.length; i++) bt[i] = -2 * (bt[i] as number);
  return [
    floatTensor('BTm2', [d, m], bt),
    floatTensor('bn', [m], rowNorms(bank, m, d)),
    floatTensor('zero', [], Float32Array.of(0)),
    int64Tensor('flat', [1], [-1]),
  ];
}

export interface NearestResult {
  /** Euclidean distance to the nearest bank row, per query row. */
  readonly dist: Float32Array;
  readonly index: Int32Array;
}

export interface ScoreMapResult extends NearestResult {
  /** Upsampled, smoothed distance map [netH, netW]. */
  readonly map: Float32Array;
  readonly mapH: number;
  readonly mapW: number;
}

export function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    k[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] = (k[i] as number) / sum;
  return k;
}

/** Arithmetic of the nearest-neighbour search: exact float, or an int8 search with the distance then refined. */
export type SearchPrecision = 'fp32' | 'int8';

/**
 * Input Q [n, d] → dist [n] (Euclidean distance to the nearest bank row) and idx [n] (that row). `fp32`: one Gemm for
 * -2·QBᵀ + ‖b‖², ArgMin, the value gathered (one pass), + ‖q‖², sqrt. `int8`: the same search on integer
 * kernels, in standard ONNX ops (DynamicQuantizeLinear on the queries, MatMulInteger against the bank
 * quantized per row, symmetric int8) that onnxruntime fuses into one DynamicQuantizeMatMul (~2.3x faster on the
 * default bank here); the chosen row's distance is then computed exactly in float, so the integer rounding can
 * only pick a near-tie neighbour (97.5% of cookies patches pick the same row; the others a row within rounding
 * of it), never misstate a distance by the rounding of a difference of large norms.
 */
function nearestParts(
  bank: Float32Array,
  m: number,
  d: number,
  precision: SearchPrecision = 'fp32',
): { nodes: NodeDef[]; inits: TensorInit[] } {
  if (precision === 'int8') return quantizedNearestParts(bank, m, d);
  const nodes: NodeDef[] = [
    ...distanceNodes('Q', 'D'),
    // One pass over D for the index; the value is gathered (no second ReduceMin pass).
    { op: 'ArgMin', inputs: ['D'], outputs: ['idx2'], attrs: { axis: attr.int(1), keepdims: attr.int(1) } },
    { op: 'GatherElements', inputs: ['D', 'idx2'], outputs: ['dmin'], attrs: { axis: attr.int(1) } },
    { op: 'ReduceSumSquare', inputs: ['Q'], outputs: ['qn'], attrs: { axes: attr.ints([1]), keepdims: attr.int(1) } },
    { op: 'Add', inputs: ['dmin', 'qn'], outputs: ['d2'] },
    { op: 'Max', inputs: ['d2', 'zero'], outputs: ['d2c'] },
    { op: 'Sqrt', inputs: ['d2c'], outputs: ['dist2'] },
    { op: 'Reshape', inputs: ['dist2', 'flat'], outputs: ['dist'] },
    { op: 'Reshape', inputs: ['idx2', 'flat'], outputs: ['idx'] },
  ];
  return { nodes, inits: bankInits(bank, m, d) };
}

function quantizedNearestParts(bank: Float32Array, m: number, d: number): { nodes: NodeDef[]; inits: TensorInit[] } {
  // -2·Bᵀ as int8 [d, m], one symmetric scale per bank row (column of Bᵀ).
  const q = new Int8Array(d * m);
  const scale = new Float32Array(m);
  for (let j = 0; j < m; j++) {
    let max = 0;
    for (let k = 0; k < d; k++) max = Math.max(max, Math.abs(2 * (bank[j * d + k] as number)));
    const s = max > 0 ? max / 127 : 1;
    scale[j] = s;
    for (let k = 0; k < d; k++) q[k * m + j] = Math.round((-2 * (bank[j * d + k] as number)) / s);
  }
  const nodes: NodeDef[] = [
    { op: 'DynamicQuantizeLinear', inputs: ['Q'], outputs: ['Qq', 'Qscale', 'Qzero'] },
    { op: 'MatMulInteger', inputs: ['Qq', 'Bq', 'Qzero', 'Bzero'], outputs: ['QBi'] },
    { op: 'Cast', inputs: ['QBi'], outputs: ['QBf'], attrs: { to: attr.int(DataType.FLOAT) } },
    { op: 'Mul', inputs: ['Qscale', 'Bscale'], outputs: ['QBscale'] },
    { op: 'Mul', inputs: ['QBf', 'QBscale'], outputs: ['qb2'] },
    { op: 'Add', inputs: ['qb2', 'bn'], outputs: ['D'] },
    { op: 'ArgMin', inputs: ['D'], outputs: ['idx'], attrs: { axis: attr.int(1), keepdims: attr.int(0) } },
    { op: 'Gather', inputs: ['B', 'idx'], outputs: ['nearest'], attrs: { axis: attr.int(0) } },
    { op: 'Sub', inputs: ['Q', 'nearest'], outputs: ['diff'] },
    {
      op: 'ReduceSumSquare',
      inputs: ['diff'],
      outputs: ['d2'],
      attrs: { axes: attr.ints([1]), keepdims: attr.int(0) },
    },
    { op: 'Sqrt', inputs: ['d2'], outputs: ['dist'] },
  ];
  const raw = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return {
    nodes,
    inits: [
      { name: 'Bq', dims: [d, m], type: DataType.INT8, raw: raw(q) },
      floatTensor('Bscale', [m], scale),
      { name: 'Bzero', dims: [m], type: DataType.INT8, raw: new Uint8Array(m) },
      floatTensor('bn', [m], rowNorms(bank, m, d)),
      floatTensor('B', [m, d], bank),
    ],
  };
}

/** Input dist [h*w] and shape [1, 1, h, w] → map [1, 1, H, W] (upsampled by `stride`, Gaussian-smoothed). */
function mapParts(opts: { stride: number; sigma: number }): { nodes: NodeDef[]; inits: TensorInit[] } {
  const k = gaussianKernel(opts.sigma);
  const r = (k.length - 1) / 2;
  const nodes: NodeDef[] = [
    { op: 'Reshape', inputs: ['dist', 'shape'], outputs: ['grid'] },
    {
      op: 'Resize',
      inputs: ['grid', '', 'scales'],
      outputs: ['up'],
      attrs: { mode: attr.string('linear'), coordinate_transformation_mode: attr.string('half_pixel') },
    },
    { op: 'Pad', inputs: ['up', 'pads'], outputs: ['padded'], attrs: { mode: attr.string('reflect') } },
    { op: 'Conv', inputs: ['padded', 'kx'], outputs: ['bx'], attrs: { kernel_shape: attr.ints([1, k.length]) } },
    { op: 'Conv', inputs: ['bx', 'ky'], outputs: ['map'], attrs: { kernel_shape: attr.ints([k.length, 1]) } },
  ];
  const inits = [
    floatTensor('scales', [4], Float32Array.of(1, 1, opts.stride, opts.stride)),
    int64Tensor('pads', [8], [0, 0, r, r, 0, 0, r, r]),
    floatTensor('kx', [1, 1, 1, k.length], k),
    floatTensor('ky', [1, 1, k.length, 1], k),
  ];
  return { nodes, inits };
}

/** Index of `i` reflected into [0, n) the way ONNX Pad 'reflect' does (the edge itself is not repeated). */
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((i % period) + period) % period;
  return m < n ? m : period - m;
}

/**
 * The map along one axis as one matrix [out, n]: bilinear upsampling by `stride` (half-pixel centres, edges
 * clamped, as ONNX Resize 'linear' / 'half_pixel'), then the reflect-padded Gaussian. Both are linear, so
 * their product does the upsample + blur of a whole row or column in one matrix product.
 */
export function axisMapMatrix(n: number, stride: number, kernel: Float32Array): Float64Array {
  const out = n * stride;
  const up = new Float64Array(out * n);
  for (let i = 0; i < out; i++) {
    let f = (i + 0.5) / stride - 0.5;
    f = Math.max(0, Math.min(n - 1, f));
    const x0 = Math.floor(f);
    const x1 = Math.min(n - 1, x0 + 1);
    const t = f - x0;
    up[i * n + x0] = (up[i * n + x0] as number) + (1 - t);
    up[i * n + x1] = (up[i * n + x1] as number) + t;
  }
  const r = (kernel.length - 1) / 2;
  const m = new Float64Array(out * n);
  for (let i = 0; i < out; i++)
    for (let k = -r; k <= r; k++) {
      const g = kernel[k + r] as number;
      const src = reflectIndex(i + k, out) * n;
      for (let j = 0; j < n; j++) m[i * n + j] = (m[i * n + j] as number) + g * (up[src + j] as number);
    }
  return m;
}

/**
 * The scoring graph in one piece (used by the standalone export): input Q [n, d] and shape [1, 1, h, w];
 * outputs dist [n], idx [n], map [1, 1, H, W] (distance to the nearest bank row, upsampled by `stride` and
 * Gaussian-smoothed).
 */
export function scorerGraph(
  bank: Float32Array,
  m: number,
  d: number,
  opts: { stride: number; sigma: number; precision?: SearchPrecision },
  sharpen?: { readonly bank: Float32Array; readonly rows: number; readonly weight: number },
): { nodes: NodeDef[]; inits: TensorInit[] } {
  const a = nearestParts(bank, m, d, opts.precision);
  const b = mapParts(opts);
  if (!sharpen) return { nodes: [...a.nodes, ...b.nodes], inits: [...a.inits, ...b.inits] };
  // dist = d_normal + weight · Relu(d_normal − d_anomaly), as SharpenedScorer computes it (src/sharpen.ts).
  const normal = (n: string): string => (n === 'dist' ? 'dn' : n);
  const known = (n: string): string => (n === 'Q' || n === '' ? n : `known/${n}`);
  const k = nearestParts(sharpen.bank, sharpen.rows, d, opts.precision);
  return {
    nodes: [
      ...a.nodes.map((n) => ({ ...n, outputs: n.outputs.map(normal) })),
      ...k.nodes.map((n) => ({ ...n, inputs: n.inputs.map(known), outputs: n.outputs.map(known) })),
      { op: 'Sub', inputs: ['dn', 'known/dist'], outputs: ['gap'] },
      { op: 'Relu', inputs: ['gap'], outputs: ['gap+'] },
      { op: 'Mul', inputs: ['gap+', 'weight'], outputs: ['lift'] },
      { op: 'Add', inputs: ['dn', 'lift'], outputs: ['dist'] },
      ...b.nodes,
    ],
    inits: [
      ...a.inits,
      ...k.inits.map((i) => ({ ...i, name: known(i.name) })),
      floatTensor('weight', [], Float32Array.of(sharpen.weight)),
      ...b.inits,
    ],
  };
}

/**
 * Elements of the [queries, bank rows] distance matrix per run: larger query sets (512 px inputs, tiles) are
 * scored in row chunks, so the intermediate stays ~16 MB instead of growing with queries × bank rows
 * (3072 × 6000 floats = 74 MB per copy at 512 px).
 */
export const DISTANCE_CHUNK_ELEMENTS = 1 << 22;

/**
 * Nearest-neighbour search against a memory bank (in row chunks), then the smoothed anomaly map: two small
 * sessions, the first run once per chunk of queries.
 */
export class NearestNeighbourScorer {
  private constructor(
    private readonly nearest: ort.InferenceSession,
    private readonly mapper: ort.InferenceSession,
    readonly d: number,
    readonly m: number,
    private readonly stride: number,
    private readonly kernel: Float32Array,
  ) {}

  /** Row and column map matrices per grid shape (few shapes per model: one, or one per tile shape). */
  private readonly axes = new Map<string, { a: ort.Tensor; b: ort.Tensor }>();

  private axisTensors(h: number, w: number): { a: ort.Tensor; b: ort.Tensor } {
    const key = `${h}x${w}`;
    let t = this.axes.get(key);
    if (!t) {
      const s = this.stride;
      const a = Float32Array.from(axisMapMatrix(h, s, this.kernel));
      const cols = axisMapMatrix(w, s, this.kernel); // [W, w]; B is its transpose [w, W]
      const b = new Float32Array(w * w * s);
      for (let i = 0; i < w * s; i++) for (let j = 0; j < w; j++) b[j * w * s + i] = cols[i * w + j] as number;
      t = { a: new ort.Tensor('float32', a, [h * s, h]), b: new ort.Tensor('float32', b, [w, w * s]) };
      if (this.axes.size > 16) this.axes.clear();
      this.axes.set(key, t);
    }
    return t;
  }

  static async create(
    bank: Float32Array,
    m: number,
    d: number,
    opts: { stride: number; sigma: number; threads: number; precision?: SearchPrecision },
  ): Promise<NearestNeighbourScorer> {
    const nn = nearestParts(bank, m, d, opts.precision);
    const nearest = await createSession(
      'nearest-neighbour',
      nn.nodes,
      nn.inits,
      [{ name: 'Q', type: DataType.FLOAT, shape: ['n', d] }],
      [
        { name: 'dist', type: DataType.FLOAT, shape: ['n'] },
        { name: 'idx', type: DataType.INT64, shape: ['n'] },
      ],
      opts.threads,
    );
    try {
      // Upsample + blur as two matrix products, map = A · grid · B with A = blur·upsample over rows [H, h] and
      // B over columns [w, W]: ~0.1 ms instead of ~1.3 ms for Resize + Pad + two Convs at 256 px (same maths).
      const mapper = await createSession(
        'anomaly-map',
        [
          { op: 'Reshape', inputs: ['dist', 'gridShape'], outputs: ['grid'] },
          { op: 'MatMul', inputs: ['A', 'grid'], outputs: ['rows'] },
          { op: 'MatMul', inputs: ['rows', 'B'], outputs: ['map'] },
        ],
        [],
        [
          { name: 'dist', type: DataType.FLOAT, shape: ['n'] },
          { name: 'gridShape', type: DataType.INT64, shape: [2] },
          { name: 'A', type: DataType.FLOAT, shape: ['H', 'h'] },
          { name: 'B', type: DataType.FLOAT, shape: ['w', 'W'] },
        ],
        [{ name: 'map', type: DataType.FLOAT, shape: ['H', 'W'] }],
        opts.threads,
      );
      return new NearestNeighbourScorer(nearest, mapper, d, m, opts.stride, gaussianKernel(opts.sigma));
    } catch (e) {
      await nearest.release();
      throw e;
    }
  }

  /** Distances and bank indices of the nearest rows for `n` query rows ([n, d]). */
  async nearestRows(features: Float32Array, n: number): Promise<NearestResult> {
    const chunk = Math.max(1, Math.floor(DISTANCE_CHUNK_ELEMENTS / Math.max(1, this.m)));
    const dist = new Float32Array(n);
    const index = new Int32Array(n);
    for (let s = 0; s < n; s += chunk) {
      const e = Math.min(n, s + chunk);
      const out = await this.nearest.run({
        Q: new ort.Tensor('float32', features.subarray(s * this.d, e * this.d), [e - s, this.d]),
      });
      const dd = out.dist?.data as Float32Array | undefined;
      const idx = out.idx?.data as BigInt64Array | undefined;
      if (!dd || !idx) throw errors.internal('nearest-neighbour kernel returned nothing');
      dist.set(dd, s);
      for (let i = 0; i < idx.length; i++) index[s + i] = Number(idx[i]);
    }
    return { dist, index };
  }

  /** `features` is [h*w, d]. */
  async score(features: Float32Array, h: number, w: number): Promise<ScoreMapResult> {
    const { dist, index } = await this.nearestRows(features, h * w);
    return { dist, index, ...(await this.mapOf(dist, h, w)) };
  }

  /** The smoothed anomaly map of any patch scores [h*w] on an h x w grid (upsampled by the stride). */
  async mapOf(dist: Float32Array, h: number, w: number): Promise<{ map: Float32Array; mapH: number; mapW: number }> {
    const { a, b } = this.axisTensors(h, w);
    const out = await this.mapper.run({
      dist: new ort.Tensor('float32', dist, [h * w]),
      gridShape: new ort.Tensor('int64', BigInt64Array.of(BigInt(h), BigInt(w)), [2]),
      A: a,
      B: b,
    });
    const map = out.map;
    if (!map) throw errors.internal('anomaly-map kernel returned nothing');
    return { map: map.data as Float32Array, mapH: map.dims[0] ?? 0, mapW: map.dims[1] ?? 0 };
  }

  async release(): Promise<void> {
    await Promise.all([this.nearest.release(), this.mapper.release()]);
  }
}

/** k nearest bank rows for many queries (used at training time only). */
export async function kNearest(
  bank: Float32Array,
  m: number,
  d: number,
  queries: Float32Array,
  n: number,
  k: number,
  threads: number,
): Promise<{ dist2: Float32Array; index: Int32Array }> {
  const kk = Math.min(k, m);
  const session = await createSession(
    'k-nearest',
    [
      ...distanceNodes('Q', 'D'),
      { op: 'TopK', inputs: ['D', 'k'], outputs: ['vals', 'idx'], attrs: { axis: attr.int(1), largest: attr.int(0) } },
      { op: 'ReduceSumSquare', inputs: ['Q'], outputs: ['qn'], attrs: { axes: attr.ints([1]), keepdims: attr.int(1) } },
      { op: 'Add', inputs: ['vals', 'qn'], outputs: ['d2'] },
      { op: 'Max', inputs: ['d2', 'zero'], outputs: ['dist2'] },
    ],
    [...bankInits(bank, m, d), int64Tensor('k', [1], [kk])],
    [{ name: 'Q', type: DataType.FLOAT, shape: ['n', d] }],
    [
      { name: 'dist2', type: DataType.FLOAT, shape: ['n', kk] },
      { name: 'idx', type: DataType.INT64, shape: ['n', kk] },
    ],
    threads,
  );
  const dist2 = new Float32Array(n * kk);
  const index = new Int32Array(n * kk);
  const chunk = Math.max(1, Math.floor(4_000_000 / m));
  try {
    for (let s = 0; s < n; s += chunk) {
      const e = Math.min(n, s + chunk);
      const out = await session.run({ Q: new ort.Tensor('float32', queries.subarray(s * d, e * d), [e - s, d]) });
      dist2.set(out.dist2?.data as Float32Array, s * kk);
      const idx = out.idx?.data as BigInt64Array;
      for (let i = 0; i < idx.length; i++) index[s * kk + i] = Number(idx[i]);
    }
  } finally {
    await session.release();
  }
  return { dist2, index };
}

/** X [n,d] times W [d,k], in row chunks. */
export async function project(
  x: Float32Array,
  n: number,
  d: number,
  w: Float32Array,
  k: number,
  threads: number,
): Promise<Float32Array> {
  const session = await createSession(
    'projection',
    [{ op: 'MatMul', inputs: ['X', 'W'], outputs: ['Y'] }],
    [floatTensor('W', [d, k], w)],
    [{ name: 'X', type: DataType.FLOAT, shape: ['n', d] }],
    [{ name: 'Y', type: DataType.FLOAT, shape: ['n', k] }],
    threads,
  );
  const out = new Float32Array(n * k);
  const chunk = 16384;
  try {
    for (let s = 0; s < n; s += chunk) {
      const e = Math.min(n, s + chunk);
      const r = await session.run({ X: new ort.Tensor('float32', x.subarray(s * d, e * d), [e - s, d]) });
      out.set(r.Y?.data as Float32Array, s * k);
    }
  } finally {
    await session.release();
  }
  return out;
}

/**
 * Greedy k-center (farthest point) selection over rows of `points` [n,d]: each step is one
 * matrix-vector product, a running minimum and an argmax inside onnxruntime.
 */
export async function greedyCoreset(
  points: Float32Array,
  n: number,
  d: number,
  count: number,
  start: number,
  threads: number,
): Promise<Int32Array> {
  const target = Math.min(count, n);
  const session = await createSession(
    'k-center',
    [
      { op: 'MatMul', inputs: ['x', 'BTm2'], outputs: ['xb2'] },
      { op: 'Add', inputs: ['xb2', 'bn'], outputs: ['part'] },
      { op: 'ReduceSumSquare', inputs: ['x'], outputs: ['xn'], attrs: { axes: attr.ints([1]), keepdims: attr.int(1) } },
      { op: 'Add', inputs: ['part', 'xn'], outputs: ['dd'] },
      { op: 'Reshape', inputs: ['dd', 'flat'], outputs: ['dflat'] },
      { op: 'Min', inputs: ['dflat', 'mind'], outputs: ['newmind'] },
      { op: 'ArgMax', inputs: ['newmind'], outputs: ['next'], attrs: { axis: attr.int(0), keepdims: attr.int(0) } },
    ],
    bankInits(points, n, d),
    [
      { name: 'x', type: DataType.FLOAT, shape: [1, d] },
      { name: 'mind', type: DataType.FLOAT, shape: [n] },
    ],
    [
      { name: 'newmind', type: DataType.FLOAT, shape: [n] },
      { name: 'next', type: DataType.INT64, shape: [] },
    ],
    threads,
  );
  const chosen = new Int32Array(target);
  let mind: Float32Array = new Float32Array(n).fill(Number.MAX_VALUE);
  let cur = Math.max(0, Math.min(n - 1, start));
  try {
    for (let i = 0; i < target; i++) {
      chosen[i] = cur;
      const out = await session.run({
        x: new ort.Tensor('float32', points.subarray(cur * d, (cur + 1) * d), [1, d]),
        mind: new ort.Tensor('float32', mind, [n]),
      });
      mind = out.newmind?.data as Float32Array;
      cur = Number((out.next?.data as BigInt64Array)[0]);
    }
  } finally {
    await session.release();
  }
  return chosen;
}
