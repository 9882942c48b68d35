/**
 * @jest-environment <rootDir>/packages/engine/testing/ort-environment.js
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readArtifact } from './artifact';
import { loadModel, trainModel, type TrainingImage } from './index';
import { anomalyPatchRows, chooseSharpenWeight, sharpenedDistances, type HeldOutImage } from './sharpen';
import { textureImage } from './testing/synthetic';

const cacheDir = mkdtempSync(join(tmpdir(), 'vigil-engine-sharpen-'));

describe('sharpening maths', () => {
  it('lifts a patch by weight x how much closer it is to a known defect, and never lowers one', () => {
    const normal = Float32Array.of(2, 2, 5, 1);
    const known = Float32Array.of(1, 3, 2, 1);
    expect(Array.from(sharpenedDistances(normal, known, 2))).toEqual([4, 2, 11, 1]);
    expect(Array.from(normal)).toEqual([2, 2, 5, 1]);
  });

  it('takes the masked patches, or without a mask the few beyond every normal patch (highest first)', () => {
    const features = { data: Float32Array.from({ length: 8 }, (_, i) => i), h: 2, w: 2, channels: 2 };
    expect(Array.from(anomalyPatchRows(features, { patchMask: Uint8Array.of(0, 1, 0, 1) }))).toEqual([2, 3, 6, 7]);
    // 5% of 4 patches rounds down to 1: only the highest of those beyond the normals' maximum.
    const top = anomalyPatchRows(features, { distances: Float32Array.of(1, 9, 4, 8), normalMax: 3 });
    expect(Array.from(top)).toEqual([2, 3]);
    expect(anomalyPatchRows(features, { distances: Float32Array.of(1, 2, 3, 1), normalMax: 3 }).length).toBe(0);
  });
});

describe('choosing the weight by cross-validation', () => {
  const grid = { h: 1, w: 4 };
  const normal = (i: number, known: number): HeldOutImage => ({
    label: 0,
    fold: -1,
    normal: Float32Array.of(1, 1.5, 2 + i * 0.1, 1),
    anomaly: [Float32Array.of(known, known, known, known), Float32Array.of(known, known, known, known)],
    ...grid,
  });
  const anomaly = (i: number, known: number): HeldOutImage => ({
    label: 1,
    fold: i % 2,
    // The defect patch is barely further from normal than a normal's worst patch...
    normal: Float32Array.of(1, 1.2, 2.05 + i * 0.1, 1),
    // ...but close to the other fold's defect patches.
    anomaly: [Float32Array.of(5, 5, known, 5)],
    ...grid,
  });
  const imageScore = (d: Float32Array): number => Math.max(...d);
  const mapOf = async (d: Float32Array): Promise<Float32Array> => Promise.resolve(Float32Array.from(d));

  it('turns sharpening on when it separates held-out anomalies that PatchCore alone mixes with normals', async () => {
    const images = [0, 1, 2, 3, 4].map((i) => normal(i, 6)).concat([0, 1, 2, 3].map((i) => anomaly(i, 0.5)));
    const r = await chooseSharpenWeight(images, 2, imageScore, mapOf);
    expect(r.candidates.map((c) => c.weight)).toEqual([0, 0.5, 1, 2, 4]);
    expect(r.candidates[0]?.objective).toBeLessThan(1);
    expect(r.weight).toBeGreaterThan(0);
    expect(r.candidates.find((c) => c.weight === r.weight)?.objective).toBe(1);
  });

  it('keeps it off when the known defects say nothing (held-out anomalies are as far from them as normals)', async () => {
    const images = [0, 1, 2, 3, 4].map((i) => normal(i, 6)).concat([0, 1, 2, 3].map((i) => anomaly(i, 6)));
    const r = await chooseSharpenWeight(images, 2, imageScore, mapOf);
    expect(r.weight).toBe(0);
  });
});

describe('a model sharpened with labelled anomalies', () => {
  const config = { inputSize: 128 };
  let images: TrainingImage[];
  let tests: Buffer[];

  beforeAll(async () => {
    images = [];
    for (let i = 0; i < 10; i++) images.push({ bytes: (await textureImage(900 + i)).bytes, label: 'normal' });
    for (let i = 0; i < 6; i++) {
      const d = await textureImage(950 + i, { defect: true });
      images.push({ bytes: d.bytes, label: 'anomaly', mask: d.mask });
    }
    tests = [(await textureImage(990)).bytes, (await textureImage(991, { defect: true })).bytes];
  });

  it('records its anomaly bank, scores every image at least as high as PatchCore alone, and reloads the same', async () => {
    const common = { config, classes: [{ name: 'scratch', color: '#23A436' }], autoConfig: false, cacheDir };
    const plain = await trainModel(images, { ...common, sharpenWeight: 0, threads: 1 });
    const sharpened = await trainModel(images, { ...common, sharpenWeight: 2, threads: 1 });
    expect(readArtifact(plain.artifact).header.sharpening).toBeUndefined();
    const { header, sections } = readArtifact(sharpened.artifact);
    expect(header.sharpening).toMatchObject({ weight: 2, source: 'masks' });
    expect(sections.anomalyBank?.length).toBe((header.sharpening?.rows ?? 0) * header.bank.dims);
    expect(sharpened.summary.sharpening?.weight).toBe(2);
    const a = await loadModel(plain.artifact, { cacheDir, threads: 1 });
    const b = await loadModel(sharpened.artifact, { cacheDir, threads: 1 });
    const again = await loadModel(Uint8Array.from(sharpened.artifact), { cacheDir, threads: 2 });
    try {
      for (const bytes of tests) {
        const before = await a.detect(bytes, { heatmap: false, anomalyMap: true });
        const after = await b.detect(bytes, { heatmap: false, anomalyMap: true });
        expect(after.rawScore).toBeGreaterThanOrEqual(before.rawScore);
        const mapBefore = before.anomalyMap?.data as Float32Array;
        const mapAfter = after.anomalyMap?.data as Float32Array;
        for (let i = 0; i < mapAfter.length; i += 97)
          expect(mapAfter[i]).toBeGreaterThanOrEqual((mapBefore[i] as number) - 1e-4);
        expect((await again.detect(bytes, { heatmap: false })).rawScore).toBe(after.rawScore);
      }
      expect(b.info.sharpening?.weight).toBe(2);
    } finally {
      await Promise.all([a.release(), b.release(), again.release()]);
    }
  });

  it('cross-validates the weight by default and reports what it tried', async () => {
    const trained = await trainModel(images, {
      config,
      classes: [{ name: 'scratch', color: '#23A436' }],
      autoConfig: false,
      cacheDir,
      threads: 1,
    });
    const report = trained.summary.sharpening;
    expect(report?.candidates.map((c) => c.weight)).toEqual([0, 0.5, 1, 2, 4]);
    expect(report?.source).toBe('masks');
    expect(Boolean(readArtifact(trained.artifact).header.sharpening)).toBe((report?.weight ?? 0) > 0);
  });

  it('is not fitted from fewer than four labelled anomalies, nor when pinned off', async () => {
    const few = await trainModel(images.slice(0, 13), { config, autoConfig: false, cacheDir, threads: 1 });
    expect(few.summary.sharpening).toBeUndefined();
    const off = await trainModel(images, { config, autoConfig: false, cacheDir, threads: 1, sharpenWeight: 0 });
    expect(off.summary.sharpening).toBeUndefined();
  });
});
