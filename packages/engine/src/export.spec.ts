/**
 * @jest-environment <rootDir>/packages/engine/testing/ort-environment.js
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { isVigilError } from '@vigil/contracts';
import { exportOnnx, loadModel, prepareImage, trainModel } from './index';
import { textureImage } from './testing/synthetic';

const cacheDir = mkdtempSync(join(tmpdir(), 'vigil-engine-export-'));

describe('standalone ONNX export', () => {
  it("scores like detect(): the exported graph's score, verdict and map match within tolerance", async () => {
    const normals: Buffer[] = [];
    for (let i = 0; i < 8; i++) normals.push((await textureImage(700 + i, { width: 160, height: 120 })).bytes);
    const trained = await trainModel(
      normals.slice(0, 6).map((bytes) => ({ bytes, label: 'normal' as const })),
      { config: { inputSize: 128, topK: 3 }, autoConfig: false, cacheDir, threads: 1 },
    );
    const exported = exportOnnx(trained.artifact, { imageWidth: 160, imageHeight: 120, cacheDir });
    expect(exported.input).toEqual({ name: 'image', width: 128, height: 96 });
    const session = await ort.InferenceSession.create(exported.onnx);
    const model = await loadModel(trained.artifact, { cacheDir, threads: 1 });
    try {
      const tests = [
        ...normals.slice(6),
        (await textureImage(800, { width: 160, height: 120, defect: true })).bytes,
        (await textureImage(801, { width: 160, height: 120, defect: true })).bytes,
      ];
      for (const bytes of tests) {
        const r = await model.detect(bytes, { anomalyMap: true, heatmap: false });
        const p = await prepareImage(bytes, { inputSize: 128, sizeMultiple: 16 });
        const out = await session.run({ image: new ort.Tensor('float32', p.tensor, [1, 3, p.netH, p.netW]) });
        const score = (out.score?.data as Float32Array)[0] as number;
        expect(Math.abs(score - r.rawScore)).toBeLessThan(1e-4 * Math.max(1, r.rawScore));
        expect(Math.abs(((out.normalised?.data as Float32Array)[0] as number) - r.score)).toBeLessThan(1e-4);
        expect(Boolean((out.anomalous?.data as Uint8Array)[0])).toBe(r.isAnomalous);
        const map = out.map?.data as Float32Array;
        const ref = r.anomalyMap?.data as Float32Array;
        expect(map.length).toBe(ref.length);
        let worst = 0;
        for (let i = 0; i < map.length; i++) worst = Math.max(worst, Math.abs((map[i] as number) - (ref[i] as number)));
        expect(worst).toBeLessThan(1e-3);
      }
    } finally {
      await model.release();
      await session.release();
    }
    // A model sharpened with labelled anomalies exports its anomaly bank and lifts the same way.
    const defects = [];
    for (let i = 0; i < 4; i++) defects.push(await textureImage(820 + i, { width: 160, height: 120, defect: true }));
    const sharpened = await trainModel(
      [
        ...normals.slice(0, 6).map((bytes) => ({ bytes, label: 'normal' as const })),
        ...defects.map((d) => ({ bytes: d.bytes, label: 'anomaly' as const, mask: d.mask })),
      ],
      { config: { inputSize: 128, topK: 3 }, autoConfig: false, cacheDir, threads: 1, sharpenWeight: 2 },
    );
    const sharpExport = exportOnnx(sharpened.artifact, { imageWidth: 160, imageHeight: 120, cacheDir });
    const sharpSession = await ort.InferenceSession.create(sharpExport.onnx);
    const sharpModel = await loadModel(sharpened.artifact, { cacheDir, threads: 1 });
    try {
      expect(sharpModel.info.sharpening?.weight).toBe(2);
      for (const seed of [830, 831]) {
        const bytes = (await textureImage(seed, { width: 160, height: 120, defect: true })).bytes;
        const r = await sharpModel.detect(bytes, { heatmap: false });
        const p = await prepareImage(bytes, { inputSize: 128, sizeMultiple: 16 });
        const out = await sharpSession.run({ image: new ort.Tensor('float32', p.tensor, [1, 3, p.netH, p.netW]) });
        const score = (out.score?.data as Float32Array)[0] as number;
        expect(Math.abs(score - r.rawScore)).toBeLessThan(1e-4 * Math.max(1, r.rawScore));
      }
    } finally {
      await sharpModel.release();
      await sharpSession.release();
    }
    const reweighted = await trainModel(
      normals.slice(0, 6).map((bytes) => ({ bytes, label: 'normal' as const })),
      { config: { inputSize: 64, reweight: true }, autoConfig: false, cacheDir, threads: 1 },
    );
    let err: unknown;
    try {
      exportOnnx(reweighted.artifact, { cacheDir });
    } catch (e) {
      err = e;
    }
    expect(isVigilError(err) && err.code).toBe('BAD_USER_INPUT');
  });
});
