/**
 * @jest-environment <rootDir>/packages/engine/testing/ort-environment.js
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadModel, trainModel } from './index';
import { autoTiles, tileGrid } from './preprocess';
import { rng } from './random';

const cacheDir = mkdtempSync(join(tmpdir(), 'vigil-engine-tiles-'));
const SIDE = 2048;
const PERIOD = 12;

/**
 * A large image of fine horizontal stripes (period 12 px, invisible once the whole image is shrunk to 256 px);
 * the defect is a 56 px square whose stripes run vertically: same brightness, different texture.
 */
const NOISE_ROWS = 16;
/**
 * Rows are assembled from a table of precomputed rows (stripe phase x noise row) by native copies: element
 * loops over typed arrays are slow inside jest's realm with the shared typed-array constructors.
 */
const ROWS = (() => {
  const next = rng(99);
  const wave = (t: number): number => 128 + 70 * Math.sin((2 * Math.PI * t) / PERIOD);
  const values: number[] = [];
  for (let p = 0; p < PERIOD; p++)
    for (let r = 0; r < NOISE_ROWS; r++)
      for (let x = 0; x < SIDE; x++) values.push(Math.round(wave(p) + (next() - 0.5) * 30));
  const vertical: number[] = [];
  for (let r = 0; r < NOISE_ROWS; r++)
    for (let x = 0; x < 56; x++) vertical.push(Math.round(wave(x) + (next() - 0.5) * 30));
  return { rows: Buffer.from(values), vertical: Buffer.from(vertical) };
})();

async function largeImage(seed: number, defect?: { x: number; y: number }): Promise<Buffer> {
  const next = rng(seed);
  const phase = Math.floor(next() * PERIOD);
  const offset = Math.floor(next() * NOISE_ROWS);
  const px = Buffer.alloc(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) {
    const r = (((y + phase) % PERIOD) * NOISE_ROWS + ((y * 5 + offset) % NOISE_ROWS)) * SIDE;
    ROWS.rows.copy(px, y * SIDE, r, r + SIDE);
    if (defect && Math.abs(y - defect.y) < 28) {
      const v = ((y + offset) % NOISE_ROWS) * 56;
      ROWS.vertical.copy(px, y * SIDE + defect.x - 28, v, v + 56);
    }
  }
  return sharp(px, { raw: { width: SIDE, height: SIDE, channels: 1 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}

describe('tiling of large images', () => {
  it('covers the image with overlapping tiles', () => {
    expect(autoTiles(1024)).toBe(1);
    expect(autoTiles(2048)).toBe(2);
    expect(autoTiles(5000)).toBe(5);
    const g = tileGrid(2048, 1000, 2, 0.125);
    expect(g.map((t) => [t.left, t.top, t.width, t.height])).toEqual([
      [0, 0, 1093, 1000],
      [955, 0, 1093, 1000],
    ]);
    const g3 = tileGrid(3000, 3000, 3, 0.125);
    expect(g3).toHaveLength(9);
    for (const t of g3) expect(t.left + t.width).toBeLessThanOrEqual(3000);
    expect(tileGrid(300, 200, 1, 0.125)).toEqual([{ left: 0, top: 0, width: 300, height: 200 }]);
  });

  it('finds a tiny defect in a 2048 px image only with tiling', async () => {
    const normals: Buffer[] = [];
    for (let i = 0; i < 6; i++) normals.push(await largeImage(10 + i));
    const at = { x: 1400, y: 600 };
    const defective = [await largeImage(40, at), await largeImage(41, { x: 500, y: 1500 })];
    const heldOut = [await largeImage(30), await largeImage(31)];
    const train = normals.map((bytes) => ({ bytes, label: 'normal' as const }));

    const margins: Record<string, number> = {};
    for (const tiles of [0, 1]) {
      const trained = await trainModel(train, { config: { tiles }, autoConfig: false, cacheDir, threads: 2 });
      expect(trained.summary.config.tiles).toBe(tiles === 0 ? 2 : 1);
      const model = await loadModel(trained.artifact, { cacheDir, threads: 2 });
      try {
        const normalScores = [];
        for (const b of heldOut) normalScores.push((await model.detect(b, { heatmap: false })).rawScore);
        const bad = [];
        for (const b of defective) bad.push(await model.detect(b, { anomalyMap: true }));
        margins[tiles] = Math.min(...bad.map((r) => r.rawScore)) / Math.max(...normalScores);
        if (tiles === 0) {
          for (const r of bad) expect(r.isAnomalous).toBe(true);
          // The stitched map peaks at the defect.
          const m = bad[0]?.anomalyMap;
          if (!m) throw new Error('no map');
          let arg = 0;
          for (let i = 1; i < m.data.length; i++) if ((m.data[i] as number) > (m.data[arg] as number)) arg = i;
          const sx = SIDE / m.width;
          expect(Math.abs((arg % m.width) * sx - at.x)).toBeLessThan(80);
          expect(Math.abs(Math.floor(arg / m.width) * sx - at.y)).toBeLessThan(80);
          const png = await sharp(bad[0]?.heatmap as Buffer).metadata();
          expect([png.width, png.height]).toEqual([SIDE, SIDE]);
        }
      } finally {
        await model.release();
      }
    }
    expect(margins[0]).toBeGreaterThan(1.3);
    expect(margins[1]).toBeLessThan(1.1);
  }, 120_000);
});
