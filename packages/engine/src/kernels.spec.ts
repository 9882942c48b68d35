/**
 * @jest-environment <rootDir>/packages/engine/testing/ort-environment.js
 */
import * as ort from 'onnxruntime-node';
import { encodeModel, DataType } from './onnx/proto';
import { DISTANCE_CHUNK_ELEMENTS, greedyCoreset, kNearest, NearestNeighbourScorer, scorerGraph } from './kernels';
import { rng } from './random';

function randomRows(n: number, d: number, seed: number): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n * d }, () => next() * 2 - 1);
}

function bruteNearest(
  bank: Float32Array,
  m: number,
  q: Float32Array,
  n: number,
  d: number,
): { dist: number[]; idx: number[] } {
  const dist: number[] = [];
  const idx: number[] = [];
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    let bi = -1;
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += ((q[i * d + k] as number) - (bank[j * d + k] as number)) ** 2;
      if (s < best) {
        best = s;
        bi = j;
      }
    }
    dist.push(Math.sqrt(best));
    idx.push(bi);
  }
  return { dist, idx };
}

describe('onnxruntime kernels', () => {
  it('nearest-neighbour distances and indices match brute force', async () => {
    const d = 16;
    const m = 300;
    const bank = randomRows(m, d, 1);
    const q = randomRows(8 * 8, d, 2);
    const scorer = await NearestNeighbourScorer.create(bank, m, d, { stride: 8, sigma: 4, threads: 1 });
    const r = await scorer.score(q, 8, 8);
    const ref = bruteNearest(bank, m, q, 64, d);
    expect(Array.from(r.index)).toEqual(ref.idx);
    r.dist.forEach((v, i) => expect(v).toBeCloseTo(ref.dist[i] as number, 4));
    expect(r.mapH).toBe(64);
    expect(r.mapW).toBe(64);
    await scorer.release();
  });

  it('the int8 search reports the exact distance to the row it picks, a nearest one up to integer rounding', async () => {
    const d = 64;
    const m = 500;
    const bank = randomRows(m, d, 11);
    const q = randomRows(16 * 16, d, 12);
    const scorer = await NearestNeighbourScorer.create(bank, m, d, {
      stride: 8,
      sigma: 4,
      threads: 1,
      precision: 'int8',
    });
    const r = await scorer.score(q, 16, 16);
    const ref = bruteNearest(bank, m, q, 256, d);
    let same = 0;
    r.index.forEach((j, i) => {
      let s = 0;
      for (let k = 0; k < d; k++) s += ((q[i * d + k] as number) - (bank[j * d + k] as number)) ** 2;
      expect(r.dist[i]).toBeCloseTo(Math.sqrt(s), 4); // exact, for the row picked
      expect(r.dist[i]).toBeLessThanOrEqual((ref.dist[i] as number) * 1.02); // never far from the true nearest
      if (j === ref.idx[i]) same++;
    });
    expect(same / 256).toBeGreaterThan(0.9);
    // Integer kernels: the same queries give the same answer, bit for bit.
    const again = await scorer.score(q, 16, 16);
    expect(Buffer.from(again.dist.buffer)).toEqual(Buffer.from(r.dist.buffer));
    await scorer.release();
  });

  it('scores large query sets in row chunks with the same result as one pass', async () => {
    const d = 2;
    // A bank wide enough that 40 queries need 4 chunks of the distance matrix.
    const m = Math.ceil(DISTANCE_CHUNK_ELEMENTS / 10) + 1;
    const bank = randomRows(m, d, 5);
    const q = randomRows(5 * 8, d, 6);
    const scorer = await NearestNeighbourScorer.create(bank, m, d, { stride: 2, sigma: 1, threads: 1 });
    const r = await scorer.score(q, 5, 8);
    const ref = bruteNearest(bank, m, q, 40, d);
    expect(Array.from(r.index)).toEqual(ref.idx);
    r.dist.forEach((v, i) => expect(v).toBeCloseTo(ref.dist[i] as number, 3));
    expect([r.mapH, r.mapW]).toEqual([10, 16]);
    await scorer.release();
  });

  it('the matrix-product map equals Resize + reflect Pad + Gaussian Convs (the exported graph)', async () => {
    const d = 8;
    const m = 40;
    const bank = randomRows(m, d, 7);
    const [h, w] = [4, 6];
    const q = randomRows(h * w, d, 8);
    const opts = { stride: 8, sigma: 4 };
    const scorer = await NearestNeighbourScorer.create(bank, m, d, { ...opts, threads: 1 });
    const r = await scorer.score(q, h, w);
    await scorer.release();
    const { nodes, inits } = scorerGraph(bank, m, d, opts);
    const ref = await ort.InferenceSession.create(
      encodeModel({
        name: 'reference',
        nodes,
        initializers: inits,
        inputs: [
          { name: 'Q', type: DataType.FLOAT, shape: ['n', d] },
          { name: 'shape', type: DataType.INT64, shape: [4] },
        ],
        outputs: [{ name: 'map', type: DataType.FLOAT, shape: [1, 1, 'H', 'W'] }],
      }),
    );
    const out = await ref.run({
      Q: new ort.Tensor('float32', q, [h * w, d]),
      shape: new ort.Tensor('int64', BigInt64Array.of(1n, 1n, BigInt(h), BigInt(w)), [4]),
    });
    await ref.release();
    const expected = out.map?.data as Float32Array;
    expect([r.mapH, r.mapW]).toEqual([h * 8, w * 8]);
    expect(r.map.length).toBe(expected.length);
    const scale = expected.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    r.map.forEach((v, i) => expect(Math.abs(v - (expected[i] as number))).toBeLessThan(1e-5 * scale));
  });

  it('k-nearest returns sorted neighbours', async () => {
    const d = 4;
    const bank = randomRows(50, d, 3);
    const { dist2, index } = await kNearest(bank, 50, d, bank, 50, 3, 1);
    for (let i = 0; i < 50; i++) {
      expect(index[i * 3]).toBe(i);
      expect(dist2[i * 3]).toBeCloseTo(0, 4);
      expect(dist2[i * 3 + 1] as number).toBeLessThanOrEqual(dist2[i * 3 + 2] as number);
    }
  });

  it('greedy k-center picks the farthest points first', async () => {
    // a tight cluster near the origin and three far outliers
    const pts = Float32Array.of(0, 0, 0.01, 0, 0, 0.01, 0.01, 0.01, 10, 0, 0, 10, -10, -10);
    const chosen = await greedyCoreset(pts, 7, 2, 4, 0, 1);
    expect(chosen[0]).toBe(0);
    expect(new Set(Array.from(chosen.subarray(1)))).toEqual(new Set([4, 5, 6]));
  });
});
