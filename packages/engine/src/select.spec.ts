/**
 * @jest-environment <rootDir>/packages/engine/testing/ort-environment.js
 */
import { defectScale, drawDefect, randomDefects, REFERENCE_DEFECT_RADIUS } from './defects';
import { beats, candidateOverrides, candidateUnits, imageUnits, MIN_GAIN, nativeInputSize } from './select';

describe('automatic configuration rules', () => {
  it('tries the native resolution second and never varies pinned settings', () => {
    expect(nativeInputSize(300, 256)).toBe(0);
    expect(nativeInputSize(512, 256)).toBe(512);
    expect(nativeInputSize(2000, 256)).toBe(512);
    expect(candidateOverrides({}, 1024)).toEqual([
      {},
      { inputSize: 512 },
      { backbones: ['mnv2-mid', 'mnv2-keras'] },
      { inputSize: 224, aggregation: 5, layers: ['mid', 'deep', 'deeper'] },
    ]);
    expect(candidateOverrides({}, 256).map((o) => o.inputSize)).toEqual([undefined, undefined, 224]);
    expect(candidateOverrides({ inputSize: 128, backbones: ['mnv2-mid'] }, 1024)).toEqual([
      {},
      { aggregation: 5, layers: ['mid', 'deep', 'deeper'] },
    ]);
  });

  it('keeps the incumbent unless every fold improves by more than the minimum gain', () => {
    expect(beats([0.8, 0.8], [0.7, 0.7])).toBe(true);
    expect(beats([0.71, 0.8], [0.7, 0.7])).toBe(true); // both folds better, mean gain above the spread
    expect(beats([0.69, 0.8], [0.7, 0.7])).toBe(false); // one fold contradicts
    expect(beats([0.7 + MIN_GAIN / 2, 0.7 + MIN_GAIN / 2], [0.7, 0.7])).toBe(false); // within the minimum gain
  });

  it('sizes synthetic defects from the masks, else from the image size', () => {
    expect(defectScale(512).size).toBeCloseTo(12 / 512 / REFERENCE_DEFECT_RADIUS, 6);
    expect(defectScale(1024).size).toBeLessThan(defectScale(512).size);
    expect(defectScale(512, [0.1, 0.05, 0.2]).size).toBeCloseTo(0.1 / REFERENCE_DEFECT_RADIUS, 6);
    expect(defectScale(512, [1]).size).toBe(4);
    const area = (size: number): number => {
      const base = new Float32Array(3 * 64 * 64).fill(0.5);
      let a = 0;
      for (const d of randomDefects(4, 3, { w: 64, h: 64 }, { size }))
        a += drawDefect(base, 64, 64, d).mask.reduce((s, v) => s + v, 0);
      return a;
    };
    expect(area(2)).toBeGreaterThan(2 * area(1));
  });

  it('shades relative to the local contrast: a flat surface gets a faint change', () => {
    const flat = new Float32Array(3 * 64 * 64).fill(0.5);
    const busy = flat.map((_, i) => 0.2 + (0.6 * ((i * 2654435761) % 997)) / 997); // noise, std ~0.17
    const spot = randomDefects(2, 5, { w: 64, h: 64 }, { size: 2 })[1];
    expect(spot?.kind).toBe('spot');
    if (!spot) return;
    const change = (t: Float32Array): number => {
      const out = drawDefect(t, 64, 64, spot).tensor;
      return out.reduce((m, v, i) => Math.max(m, Math.abs(v - (t[i] as number))), 0);
    };
    expect(change(flat)).toBeLessThan(0.06);
    expect(change(busy)).toBeGreaterThan(2 * change(flat));
  });

  it('charges candidates in work units from the data shape and the settings only', () => {
    expect(imageUnits({ inputSize: 256, backbones: ['mnv2-mid'] })).toBe(1);
    expect(imageUnits({ inputSize: 512, backbones: ['mnv2-mid'] })).toBe(8);
    expect(imageUnits({ inputSize: 512, backbones: ['mnv2-mid', 'mnv2-keras'] })).toBeCloseTo(10.4, 9);
    const folds = [
      [0, 2, 4],
      [1, 3],
    ];
    // fold 0 as bank: 3 + 2 x (1 + 2 defects) + 4 anomalies; fold 1: 2 + 3 x 3 + 4.
    expect(candidateUnits({ inputSize: 256, backbones: ['mnv2-mid'] }, folds, 4, 2)).toBe(13 + 15);
    expect(candidateUnits({ inputSize: 512, backbones: ['mnv2-mid'] }, folds, 4, 2)).toBe(8 * 28);
    expect(candidateUnits({ inputSize: 256, backbones: ['mnv2-mid'] }, [[0, 1], []], 4, 2)).toBe(0);
  });
});
