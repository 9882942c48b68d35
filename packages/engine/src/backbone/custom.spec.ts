/**
 * @jest-environment <rootDir>/packages/engine/testing/ort-environment.js
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVigilError } from '@vigil/contracts';
import { loadModel, readArtifact, trainModel, type CustomBackbone } from '../index';
import { auroc } from '../metrics';
import { attr, DataType, encodeModel, floatTensor } from '../onnx/proto';
import { gaussianMatrix } from '../random';
import { textureImage } from '../testing/synthetic';

const dir = mkdtempSync(join(tmpdir(), 'vigil-custom-backbone-'));

/** A tiny two-stage conv net whose only graph output is a pooled vector; the feature tensors are internal. */
function tinyNet(seed: number): Uint8Array {
  return encodeModel({
    name: 'tiny',
    nodes: [
      {
        op: 'Conv',
        inputs: ['pixels', 'w1'],
        outputs: ['c1'],
        attrs: { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
      },
      { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
      {
        op: 'Conv',
        inputs: ['r1', 'w2'],
        outputs: ['c2'],
        attrs: { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
      },
      { op: 'Relu', inputs: ['c2'], outputs: ['r2'] },
      { op: 'GlobalAveragePool', inputs: ['r2'], outputs: ['pooled'] },
    ],
    initializers: [
      floatTensor('w1', [8, 3, 3, 3], gaussianMatrix(8, 27, seed)),
      floatTensor('w2', [16, 8, 3, 3], gaussianMatrix(16, 72, seed + 1)),
    ],
    inputs: [{ name: 'pixels', type: DataType.FLOAT, shape: [1, 3, 'H', 'W'] }],
    outputs: [{ name: 'pooled', type: DataType.FLOAT, shape: [1, 16, 1, 1] }],
  });
}

const code = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
    return undefined;
  } catch (e) {
    return isVigilError(e) ? e.code : `untyped: ${String(e)}`;
  }
};

describe('user-registered ONNX backbone', () => {
  const path = join(dir, 'tiny.onnx');
  const bytes = tinyNet(5);
  writeFileSync(path, bytes);
  const backbone: CustomBackbone = {
    name: 'tiny',
    path,
    featureNodes: ['r1', 'r2'],
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
  };

  it('trains and detects with its internal feature nodes, recording the file digest', async () => {
    const normals: Buffer[] = [];
    for (let i = 0; i < 12; i++) normals.push((await textureImage(300 + i)).bytes);
    const defects: Buffer[] = [];
    for (let i = 0; i < 4; i++) defects.push((await textureImage(400 + i, { defect: true })).bytes);
    const trained = await trainModel(
      normals.slice(0, 9).map((b) => ({ bytes: b, label: 'normal' as const })),
      { config: { inputSize: 128, customBackbone: backbone }, threads: 1 },
    );
    const { header } = readArtifact(trained.artifact);
    const recorded = header.config.customBackbone;
    expect(recorded?.digest).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(recorded?.layers).toEqual([
      { name: 'r1', stride: 2, channels: 8 },
      { name: 'r2', stride: 4, channels: 16 },
    ]);
    expect(header.bank.dims).toBe(24);
    expect(header.backbone.licence).toContain('tiny');
    const model = await loadModel(trained.artifact, { threads: 1 });
    try {
      const scores: number[] = [];
      for (const b of [...normals.slice(9), ...defects])
        scores.push((await model.detect(b, { heatmap: false })).rawScore);
      expect(auroc(scores, [0, 0, 0, 1, 1, 1, 1])).toBeGreaterThanOrEqual(0.9);
    } finally {
      await model.release();
    }

    // Another file at the same path: the model refuses to load.
    const other = join(dir, 'other.onnx');
    writeFileSync(other, tinyNet(6));
    writeFileSync(path, tinyNet(6));
    try {
      expect(await code(loadModel(trained.artifact, { threads: 1 }))).toBe('CONFLICT');
    } finally {
      writeFileSync(path, bytes);
    }
  });

  it('supports a fixed input size', async () => {
    const normals: Buffer[] = [];
    for (let i = 0; i < 6; i++) normals.push((await textureImage(500 + i, { width: 160, height: 120 })).bytes);
    const trained = await trainModel(
      normals.map((b) => ({ bytes: b, label: 'normal' as const })),
      { config: { customBackbone: { ...backbone, inputSize: { width: 96, height: 96 } } }, threads: 1 },
    );
    const model = await loadModel(trained.artifact, { threads: 1 });
    try {
      const r = await model.detect(normals[0] as Buffer, { anomalyMap: true });
      expect([r.width, r.height]).toEqual([160, 120]);
      expect([r.anomalyMap?.width, r.anomalyMap?.height]).toEqual([96, 96]);
    } finally {
      await model.release();
    }
  });

  it('rejects bad registrations with typed errors', async () => {
    const img = (await textureImage(1)).bytes;
    const train = (b: Partial<CustomBackbone>): Promise<unknown> =>
      trainModel([{ bytes: img, label: 'normal' }], {
        config: { inputSize: 64, customBackbone: { ...backbone, ...b } },
      });
    expect(await code(train({ featureNodes: ['nope'] }))).toBe('BAD_USER_INPUT');
    expect(await code(train({ featureNodes: ['pooled'] }))).toBe('BAD_USER_INPUT'); // 1x1: not a feature map
    expect(await code(train({ path: join(dir, 'missing.onnx') }))).toBe('BAD_USER_INPUT');
    expect(await code(train({ inputName: 'image' }))).toBe('BAD_USER_INPUT');
    expect(await code(train({ std: [1, 0, 1] }))).toBe('BAD_USER_INPUT');
    const junk = join(dir, 'junk.onnx');
    writeFileSync(junk, Buffer.from('not a model'));
    expect(await code(train({ path: junk }))).toBe('BAD_USER_INPUT');
  });
});
