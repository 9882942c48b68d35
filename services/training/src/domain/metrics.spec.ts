import { describe, expect, it } from '@jest/globals';
import * as engineMetrics from '@vigil/engine/src/metrics';
import { evaluation, summariseEvaluation } from './metrics';

const image = (n: number) => n.toString(16).padStart(64, '0');

describe('summariseEvaluation', () => {
  it('maps verdicts to confusion counts, precision, recall, F1 and AUROC (anomaly positive)', () => {
    const rows = [
      evaluation({ imageId: image(1), expected: 'anomaly', score: 0.9, rawScore: 9, isAnomalous: true, maskKey: null }),
      evaluation({
        imageId: image(2),
        expected: 'anomaly',
        score: 0.4,
        rawScore: 4,
        isAnomalous: false,
        maskKey: null,
      }),
      evaluation({ imageId: image(3), expected: 'normal', score: 0.6, rawScore: 6, isAnomalous: true, maskKey: null }),
      evaluation({ imageId: image(4), expected: 'normal', score: 0.1, rawScore: 1, isAnomalous: false, maskKey: null }),
      evaluation({ imageId: image(5), expected: 'normal', score: 0.2, rawScore: 2, isAnomalous: false, maskKey: null }),
    ];
    expect(rows.map((r) => r.correct)).toEqual([true, false, false, true, true]);
    const m = summariseEvaluation(rows, 5, 0.8, engineMetrics);
    expect(m).toMatchObject({
      truePositives: 1,
      falseNegatives: 1,
      falsePositives: 1,
      trueNegatives: 2,
      precision: 0.5,
      recall: 0.5,
      f1: 0.5,
      threshold: 5,
      pixelAuroc: 0.8,
      testImages: 5,
    });
    // Anomalies 9 and 4 against normals 6, 1, 2: 5 of 6 pairs ordered right.
    expect(m.auroc).toBeCloseTo(5 / 6, 10);
  });

  it('reports AUROC as null when the test images are all of one label', () => {
    const rows = [
      evaluation({ imageId: image(1), expected: 'normal', score: 0.1, rawScore: 1, isAnomalous: false, maskKey: null }),
    ];
    const m = summariseEvaluation(rows, 5, null, engineMetrics);
    expect(m.auroc).toBeNull();
    expect(m.pixelAuroc).toBeNull();
    expect([m.precision, m.recall, m.f1]).toEqual([0, 0, 0]);
  });
});
