/**
 * @jest-environment <rootDir>/packages/engine/testing/ort-environment.js
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { isVigilError, VigilError } from '@vigil/contracts';
import { loadModel, loadModelPool, trainModel, type AnomalyModel, type TrainedModel } from './index';
import { readArtifact } from './artifact';
import { drawDefect, randomDefects } from './defects';
import { auroc } from './metrics';
import { textureImage } from './testing/synthetic';

const cacheDir = mkdtempSync(join(tmpdir(), 'vigil-engine-test-'));
const config = { inputSize: 128 };

describe('engine on synthetic textures with injected defects', () => {
  let trained: TrainedModel;
  let model: AnomalyModel;
  const normals: Buffer[] = [];
  const defects: { bytes: Buffer; mask: Buffer }[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 12; i++) normals.push((await textureImage(100 + i)).bytes);
    for (let i = 0; i < 6; i++) defects.push(await textureImage(200 + i, { defect: true }));
    const progress: number[] = [];
    trained = await trainModel(
      [
        ...normals.slice(0, 9).map((bytes) => ({ bytes, label: 'normal' as const })),
        ...defects.slice(0, 2).map((d) => ({ bytes: d.bytes, label: 'anomaly' as const, mask: d.mask })),
      ],
      { config, classes: [{ name: 'scratch', color: '#23A436' }], autoConfig: false, cacheDir, threads: 1 },
      (p) => progress.push(p.fraction),
    );
    expect(progress[progress.length - 1]).toBe(1);
    model = await loadModel(trained.artifact, { cacheDir, threads: 1 });
  });

  afterAll(async () => {
    await model?.release();
  });

  it('separates held-out defects from held-out normals', async () => {
    const test = [...normals.slice(9), ...defects.slice(2).map((d) => d.bytes)];
    const labels = [0, 0, 0, 1, 1, 1, 1];
    const results = [];
    for (const b of test) results.push(await model.detect(b, { heatmap: false }));
    expect(
      auroc(
        results.map((r) => r.rawScore),
        labels,
      ),
    ).toBe(1);
    for (const [i, r] of results.entries()) {
      expect(r.confidence).toBeGreaterThanOrEqual(0.5);
      expect(r.score >= 0.5).toBe(r.isAnomalous);
      if (labels[i]) expect(r.isAnomalous).toBe(true);
    }
  });

  it('returns an image-sized heat map and a class segmentation with background first', async () => {
    const odd = await textureImage(300, { width: 150, height: 100, defect: true, format: 'jpeg' });
    const r = await model.detect(odd.bytes);
    const meta = await sharp(r.heatmap as Buffer).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 150, 100]);
    expect(r.segmentation?.anomalies[0]?.name).toBe('background');
    expect(r.segmentation?.anomalies[1]?.name).toBe('scratch');
    expect(r.segmentation?.anomalies[1]?.totalPercentageArea).toBeGreaterThan(0);
    const maskMeta = await sharp(r.segmentation?.mask as Buffer).metadata();
    expect([maskMeta.width, maskMeta.height]).toEqual([150, 100]);
  });

  it('gives bit-identical scores for the same artifact and image across loads and thread counts', async () => {
    const img = defects[3]?.bytes as Buffer;
    const a = await model.detect(img, { heatmap: false });
    const again = await model.detect(img, { heatmap: false });
    const other = await loadModel(Uint8Array.from(trained.artifact), { cacheDir, threads: 2 });
    const b = await other.detect(img, { heatmap: false });
    await other.release();
    const bits = (x: number): string => Buffer.from(Float64Array.of(x).buffer).toString('hex');
    expect(bits(again.rawScore)).toBe(bits(a.rawScore));
    expect(bits(b.rawScore)).toBe(bits(a.rawScore));
  });

  it('gives the same results from a worker-thread pool, errors included', async () => {
    const pool = await loadModelPool(trained.artifact, { workers: 2, cacheDir });
    try {
      const imgs = [normals[9] as Buffer, defects[2]?.bytes as Buffer, defects[3]?.bytes as Buffer];
      const direct = [];
      for (const b of imgs) direct.push(await model.detect(b));
      const pooled = await Promise.all(imgs.map((b) => pool.detect(b)));
      expect(pooled.map((r) => r.rawScore)).toEqual(direct.map((r) => r.rawScore));
      expect(Buffer.isBuffer(pooled[1]?.heatmap)).toBe(true);
      expect(pooled[1]?.heatmap?.equals(direct[1]?.heatmap as Buffer)).toBe(true);
      expect(pooled[1]?.segmentation?.anomalies).toEqual(direct[1]?.segmentation?.anomalies);
      await expect(pool.detect(Buffer.from('not an image'))).rejects.toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    } finally {
      await pool.release();
    }
  });

  it('rejects a corrupted artifact with a typed error', async () => {
    const bad = Uint8Array.from(trained.artifact);
    bad[100] = (bad[100] as number) ^ 1;
    await expect(loadModel(bad, { cacheDir })).rejects.toBeInstanceOf(VigilError);
  });

  const codeOf = async (bytes: Uint8Array): Promise<string> => {
    try {
      await model.detect(bytes);
      return 'none';
    } catch (e) {
      return isVigilError(e) ? e.code : `untyped: ${String(e)}`;
    }
  };

  it('answers bad images with typed errors', async () => {
    const good = normals[0] as Buffer;
    const jpeg = (await textureImage(7, { format: 'jpeg' })).bytes;
    expect(await codeOf(new Uint8Array(0))).toBe('INVALID_IMAGE');
    expect(await codeOf(Buffer.from('definitely not an image'))).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await codeOf(jpeg.subarray(0, Math.floor(jpeg.length / 2)))).toBe('INVALID_IMAGE');
    expect(await codeOf(good.subarray(0, 60))).toBe('INVALID_IMAGE');
    const tiny = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    expect(await codeOf(tiny)).toBe('INVALID_IMAGE');
    // A PNG whose header claims 40000x40000 pixels: rejected from the header, never decoded.
    const huge = Buffer.from(good);
    huge.writeUInt32BE(40000, 16);
    huge.writeUInt32BE(40000, 20);
    const { crc32 } = await import('node:zlib');
    huge.writeUInt32BE(crc32(huge.subarray(12, 29)) >>> 0, 29);
    expect(await codeOf(huge)).toBe('IMAGE_TOO_LARGE');
  });
});

describe('automatic configuration', () => {
  it('draws synthetic defects with masks and records the choice in the model', async () => {
    const base = new Float32Array(3 * 32 * 48).map((_, i) => ((i * 2654435761) % 997) / 997);
    for (const d of randomDefects(4, 1, { w: 48, h: 32 })) {
      const { tensor, mask } = drawDefect(base, 48, 32, d);
      expect(mask.some((m) => m)).toBe(true);
      expect(tensor).not.toEqual(base);
    }
    const imgs = [];
    for (let i = 0; i < 8; i++)
      imgs.push({ bytes: (await textureImage(400 + i, { width: 64, height: 64 })).bytes, label: 'normal' as const });
    const stages: string[] = [];
    const t = await trainModel(
      imgs,
      { config: { inputSize: 64, backbones: ['mnv2-mid'] }, cacheDir, threads: 1 }, // automatic by default
      (p) => stages.push(p.stage),
    );
    const sel = t.summary.selection;
    expect(sel?.candidates.length).toBeGreaterThan(1);
    expect(sel?.candidates.every((c) => !('inputSize' in c.settings) && !('backbones' in c.settings))).toBe(true);
    expect(stages).toContain('selection');
    const { header } = readArtifact(t.artifact);
    expect((header.training.selection as { chosen: unknown }).chosen).toEqual(sel?.chosen);
    expect(header.config.topK).toBe(t.summary.config.topK);
  });

  it('spends a budget of work units, not seconds: a slow machine chooses the same model', async () => {
    const imgs: { bytes: Buffer; label: 'normal' }[] = [];
    for (let i = 0; i < 8; i++)
      imgs.push({ bytes: (await textureImage(400 + i, { width: 64, height: 64 })).bytes, label: 'normal' as const });
    const config = { inputSize: 64, backbones: ['mnv2-mid' as const] };
    // Two candidates here (the default, the wide field of view), each 8 fold images + 24 queries at
    // (64/256)^3 units: 0.5 units. A budget of 0.75 runs the first only, however long it takes.
    const train = async (slow: boolean): Promise<TrainedModel> =>
      trainModel(imgs, { config, cacheDir, threads: 1, selectionBudget: 0.75 }, (p) => {
        if (!slow || p.stage !== 'selection') return;
        const until = performance.now() + 300; // a loaded machine: the candidates take much longer
        while (performance.now() < until);
      });
    const [quick, slow] = [await train(false), await train(true)];
    for (const t of [quick, slow]) {
      expect(t.summary.selection?.skipped).toBe(1);
      expect(t.summary.selection?.spentUnits).toBeCloseTo(0.5, 9);
      expect(t.summary.selection?.candidates.every((c) => !('aggregation' in c.settings))).toBe(true);
    }
    expect(slow.summary.selection?.candidates.map((c) => [c.settings, c.objective])).toEqual(
      quick.summary.selection?.candidates.map((c) => [c.settings, c.objective]),
    );
    expect(slow.summary.config).toEqual(quick.summary.config);
    expect(readArtifact(slow.artifact).sections.bank).toEqual(readArtifact(quick.artifact).sections.bank);
  });
});
