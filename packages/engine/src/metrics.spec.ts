import { aupro, auroc, bestF1, confusion, connectedComponents, iou, perClassIou, precisionRecallF1 } from './metrics';

describe('metrics', () => {
  it('computes AUROC as the Mann-Whitney statistic, ties counted half', () => {
    expect(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 10);
    expect(auroc([1, 2, 3, 4], [0, 0, 1, 1])).toBe(1);
    expect(auroc([4, 3, 2, 1], [0, 0, 1, 1])).toBe(0);
    // one tie between a positive and a negative: (3 + 0.5) / 4
    expect(auroc([0.1, 0.5, 0.5, 0.9], [0, 0, 1, 1])).toBeCloseTo(0.875, 10);
    expect(auroc([1, 2], [1, 1])).toBeNaN();
    // many ties across both classes, unsorted, typed arrays: equal to counting every pair
    const scores = Float32Array.from({ length: 300 }, (_, i) => ((i * 37) % 11) / 4);
    const labels = Uint8Array.from({ length: 300 }, (_, i) => ((i * 13) % 7 < 3 ? 1 : 0));
    let pairs = 0;
    let wins = 0;
    for (let i = 0; i < 300; i++)
      for (let j = 0; j < 300; j++)
        if (labels[i] && !labels[j]) {
          pairs++;
          const [a, b] = [scores[i] as number, scores[j] as number];
          wins += a > b ? 1 : a === b ? 0.5 : 0;
        }
    expect(auroc(scores, labels)).toBe(wins / pairs);
  });

  it('counts a confusion matrix and derives precision, recall and F1', () => {
    const c = confusion([0.9, 0.8, 0.3, 0.6, 0.1], [1, 0, 1, 1, 0], 0.5);
    expect(c).toEqual({ tp: 2, fp: 1, tn: 1, fn: 1 });
    const p = precisionRecallF1(c);
    expect(p.precision).toBeCloseTo(2 / 3, 10);
    expect(p.recall).toBeCloseTo(2 / 3, 10);
    expect(p.f1).toBeCloseTo(2 / 3, 10);
  });

  it('finds the best-F1 threshold between adjacent scores', () => {
    const b = bestF1([0.1, 0.2, 0.7, 0.9], [0, 0, 1, 1]);
    expect(b.f1).toBe(1);
    expect(b.threshold).toBeCloseTo(0.45, 10);
    // best is to flag all three top scores: tp 2, fp 1 -> F1 0.8
    const c = bestF1([0.1, 0.8, 0.7, 0.9], [0, 0, 1, 1]);
    expect(c.f1).toBeCloseTo(0.8, 10);
    expect(c.threshold).toBeCloseTo(0.4, 10);
  });

  it('computes IoU and per-class IoU', () => {
    expect(iou([1, 1, 0, 0], [1, 0, 1, 0])).toBeCloseTo(1 / 3, 10);
    expect(iou([0, 0], [0, 0])).toBeNaN();
    const per = perClassIou([0, 1, 1, 2], [0, 1, 2, 2], 3);
    expect(per[0]).toBe(1);
    expect(per[1]).toBeCloseTo(0.5, 10);
    expect(per[2]).toBeCloseTo(0.5, 10);
  });

  it('labels connected components', () => {
    const { count, labels } = connectedComponents([1, 1, 0, 0, 0, 0, 0, 1, 1], 3, 3);
    expect(count).toBe(2);
    expect(labels[0]).toBe(labels[1]);
    expect(labels[7]).toBe(labels[8]);
    expect(labels[0]).not.toBe(labels[7]);
  });

  it('AUPRO is 1 for a perfect map and lower when a region is missed', () => {
    const mask = [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const perfect = mask.map((m) => (m ? 1 : 0));
    expect(aupro([{ map: perfect, mask, width: 4, height: 4 }], 0.3, 100)).toBeCloseTo(1, 2);
    // Region B (pixel 15) scores like the 13 normal pixels: the curve is (0, 0.5) then, at the lowest
    // threshold, (1, 1); interpolated to FPR 0.3 gives PRO 0.65, area 0.3 * (0.5 + 0.65) / 2 = 0.1725, / 0.3.
    const half = mask.map((m, i) => (m && i !== 15 ? 1 : 0));
    expect(aupro([{ map: half, mask, width: 4, height: 4 }], 0.3, 100)).toBeCloseTo(0.575, 6);
  });
});
