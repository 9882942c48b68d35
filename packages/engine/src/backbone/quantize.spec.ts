/**
 * @jest-environment <rootDir>/packages/engine/testing/ort-environment.js
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { prepareImage } from '../preprocess';
import { textureImage } from '../testing/synthetic';
import { featureGraphBytes, featureGraphParts, FeatureExtractor, sessionOptions, type FeatureSpec } from './features';
import { recordedRange } from './quantize';

const cacheDir = mkdtempSync(join(tmpdir(), 'vigil-quantize-test-'));
const spec: FeatureSpec = { backbones: ['mnv2-mid'], layers: ['mid', 'deep'], aggregation: 3 };

async function inputs(seeds: readonly number[]): Promise<{ tensor: Float32Array; netH: number; netW: number }[]> {
  const out = [];
  for (const seed of seeds) {
    const p = await prepareImage((await textureImage(seed)).bytes, { inputSize: 128, sizeMultiple: 16 });
    out.push({ tensor: p.tensor, netH: p.netH, netW: p.netW });
  }
  return out;
}

async function* each<T>(xs: readonly T[]): AsyncGenerator<T> {
  yield* xs;
}

describe('recordedRange', () => {
  it('adds 10% headroom, rounds outwards to 3 significant digits and always contains 0', () => {
    expect(recordedRange(-1.234, 5.678)).toEqual([-1.36, 6.25]);
    expect(recordedRange(0.5, 2)).toEqual([0, 2.2]);
    expect(recordedRange(-3, -1)).toEqual([-3.3, 0]);
    // Float noise in the last bits of a measurement does not change what is recorded.
    expect(recordedRange(-1.2340001, 5.6779999)).toEqual(recordedRange(-1.234, 5.678));
  });
});

describe('int8 backbone', () => {
  let ranges: Awaited<ReturnType<typeof FeatureExtractor.calibrate>>;
  beforeAll(async () => {
    ranges = await FeatureExtractor.calibrate(spec, each(await inputs([1, 2, 3, 4])), { cacheDir, threads: 1 });
  });

  it('measures a range for every linear bottleneck and residual sum, and none for a Keras-only network', async () => {
    const names = Object.keys(ranges);
    expect(names).toEqual(featureGraphParts(spec).calibration);
    expect(names.filter((n) => n.endsWith('/add'))).toHaveLength(8);
    expect(names.filter((n) => n.includes('/project/'))).toHaveLength(13);
    for (const [lo, hi] of Object.values(ranges)) {
      expect(lo).toBeLessThanOrEqual(0);
      expect(hi).toBeGreaterThan(0);
    }
    const keras = await FeatureExtractor.calibrate({ ...spec, backbones: ['mnv2-keras'] }, each(await inputs([1])), {
      cacheDir,
      threads: 1,
    });
    expect(keras).toEqual({});
  });

  it('runs as fused integer kernels, with features close to the float network', async () => {
    const int8: FeatureSpec = { ...spec, activationRanges: ranges };
    // What onnxruntime made of the QDQ graph: every convolution and sum of the body became an integer kernel.
    const optimized = join(cacheDir, 'optimized.onnx');
    const session = await ort.InferenceSession.create(featureGraphBytes(int8, cacheDir), {
      ...sessionOptions(1),
      optimizedModelFilePath: optimized,
    });
    await session.release();
    const text = readFileSync(optimized).toString('latin1');
    // NodeProto.op_type is field 4, a string: tag 0x22, then its length.
    const count = (op: string): number => text.split(`"${String.fromCharCode(op.length)}${op}`).length - 1;
    expect(count('QLinearConv')).toBe(38); // all but the first convolution, which reads the image in float
    expect(count('QLinearAdd')).toBe(8);

    const [float, quantized] = await Promise.all([
      FeatureExtractor.create(spec, { cacheDir, threads: 1 }),
      FeatureExtractor.create(int8, { cacheDir, threads: 1 }),
    ]);
    try {
      expect(quantized.info.digest).not.toBe(float.info.digest);
      for (const x of await inputs([10, 11])) {
        const a = (await float.run(x.tensor, x.netH, x.netW)).data;
        const b = (await quantized.run(x.tensor, x.netH, x.netW)).data;
        let ab = 0;
        let aa = 0;
        let bb = 0;
        for (let i = 0; i < a.length; i++) {
          ab += (a[i] as number) * (b[i] as number);
          aa += (a[i] as number) ** 2;
          bb += (b[i] as number) ** 2;
        }
        expect(ab / Math.sqrt(aa * bb)).toBeGreaterThan(0.99);
        // Integer kernels: the same input gives the same features, bit for bit.
        expect(Buffer.from((await quantized.run(x.tensor, x.netH, x.netW)).data.buffer)).toEqual(Buffer.from(b.buffer));
      }
    } finally {
      await Promise.all([float.release(), quantized.release()]);
    }
  });
});
