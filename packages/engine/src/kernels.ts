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

/** Nodes computing squared distances D [n,m] from input Q [n,d] to a fixed bank (BT [d,m], bn [m]). */
function distanceNodes(q: string, out: string): NodeDef[] {
  return [
    { op: 'MatMul', inputs: [q, 'BT'], outputs: ['qb'] },
    { op: 'Mul', inputs: ['qb', 'minus2'], outputs: ['qb2'] },
    { op: 'Add', inputs: ['qb2', 'bn'], outputs: [out] },
  ];
}

function bankInits(bank: Float32Array, m: number, d: number): TensorInit[] {
  return [
    floatTensor('BT', [d, m], transpose(bank, m, d)),
    floatTensor('bn', [m], rowNorms(bank, m, d)),
    floatTensor('minus2', [], Float32Array.of(-2)),
    floatTensor('zero', [], Float32Array.of(0)),
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

/**
 * The scoring graph: input Q [n, d] and shape [1, 1, h, w]; outputs dist [n], idx [n], map [1, 1, H, W]
 * (distance to the nearest bank row, upsampled by `stride` and Gaussian-smoothed).
 */
export function scorerGraph(
  bank: Float32Array,
  m: number,
  d: number,
  opts: { stride: number; sigma: number },
): { nodes: NodeDef[]; inits: TensorInit[] } {
  const k = gaussianKernel(opts.sigma);
  const r = (k.length - 1) / 2;
  const nodes: NodeDef[] = [
    ...distanceNodes('Q', 'D'),
    { op: 'ReduceMin', inputs: ['D'], outputs: ['dmin'], attrs: { axes: attr.ints([1]), keepdims: attr.int(0) } },
    { op: 'ArgMin', inputs: ['D'], outputs: ['idx'], attrs: { axis: attr.int(1), keepdims: attr.int(0) } },
    { op: 'ReduceSumSquare', inputs: ['Q'], outputs: ['qn'], attrs: { axes: attr.ints([1]), keepdims: attr.int(0) } },
    { op: 'Add', inputs: ['dmin', 'qn'], outputs: ['d2'] },
    { op: 'Max', inputs: ['d2', 'zero'], outputs: ['d2c'] },
    { op: 'Sqrt', inputs: ['d2c'], outputs: ['dist'] },
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
    ...bankInits(bank, m, d),
    floatTensor('scales', [4], Float32Array.of(1, 1, opts.stride, opts.stride)),
    int64Tensor('pads', [8], [0, 0, r, r, 0, 0, r, r]),
    floatTensor('kx', [1, 1, 1, k.length], k),
    floatTensor('ky', [1, 1, k.length, 1], k),
  ];
  return { nodes, inits };
}

/** Nearest-neighbour search against a memory bank, plus the smoothed anomaly map, in one graph. */
export class NearestNeighbourScorer {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly d: number,
    readonly m: number,
  ) {}

  static async create(
    bank: Float32Array,
    m: number,
    d: number,
    opts: { stride: number; sigma: number; threads: number },
  ): Promise<NearestNeighbourScorer> {
    const { nodes, inits } = scorerGraph(bank, m, d, opts);
    const session = await createSession(
      'nearest-neighbour',
      nodes,
      inits,
      [
        { name: 'Q', type: DataType.FLOAT, shape: ['n', d] },
        { name: 'shape', type: DataType.INT64, shape: [4] },
      ],
      [
        { name: 'dist', type: DataType.FLOAT, shape: ['n'] },
        { name: 'idx', type: DataType.INT64, shape: ['n'] },
        { name: 'map', type: DataType.FLOAT, shape: [1, 1, 'H', 'W'] },
      ],
      opts.threads,
    );
    return new NearestNeighbourScorer(session, d, m);
  }

  /** `features` is [h*w, d]. */
  async score(features: Float32Array, h: number, w: number): Promise<ScoreMapResult> {
    const out = await this.session.run({
      Q: new ort.Tensor('float32', features, [h * w, this.d]),
      shape: new ort.Tensor('int64', BigInt64Array.of(1n, 1n, BigInt(h), BigInt(w)), [4]),
    });
    const dist = out.dist?.data as Float32Array;
    const idx = out.idx?.data as BigInt64Array;
    const map = out.map;
    if (!dist || !idx || !map) throw errors.internal('nearest-neighbour kernel returned nothing');
    const index = new Int32Array(idx.length);
    for (let i = 0; i < idx.length; i++) index[i] = Number(idx[i]);
    return { dist, index, map: map.data as Float32Array, mapH: map.dims[2] ?? 0, mapW: map.dims[3] ?? 0 };
  }

  async release(): Promise<void> {
    await this.session.release();
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
      { op: 'MatMul', inputs: ['x', 'BT'], outputs: ['xb'] },
      { op: 'Mul', inputs: ['xb', 'minus2'], outputs: ['xb2'] },
      { op: 'Add', inputs: ['xb2', 'bn'], outputs: ['part'] },
      { op: 'ReduceSumSquare', inputs: ['x'], outputs: ['xn'], attrs: { axes: attr.ints([1]), keepdims: attr.int(1) } },
      { op: 'Add', inputs: ['part', 'xn'], outputs: ['dd'] },
      { op: 'Reshape', inputs: ['dd', 'flat'], outputs: ['dflat'] },
      { op: 'Min', inputs: ['dflat', 'mind'], outputs: ['newmind'] },
      { op: 'ArgMax', inputs: ['newmind'], outputs: ['next'], attrs: { axis: attr.int(0), keepdims: attr.int(0) } },
    ],
    [...bankInits(points, n, d), int64Tensor('flat', [1], [-1])],
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
