import type { Engine, EngineConfusion } from './engine';

export type Label = 'normal' | 'anomaly';

/** One test image's result. */
export interface Evaluation {
  readonly imageId: string;
  readonly expected: Label;
  /** Normalised score in [0,1]; 0.5 is the threshold. */
  readonly score: number;
  readonly rawScore: number;
  readonly verdict: Label;
  readonly correct: boolean;
  readonly maskKey: string | null;
}

/** What a trained version keeps about its test. Rates are null when undefined (e.g. AUROC without anomalies). */
export interface ModelMetrics {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  readonly auroc: number | null;
  readonly pixelAuroc: number | null;
  /** The image threshold in the engine's raw score units (normalised scores put it at 0.5). */
  readonly threshold: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly trueNegatives: number;
  readonly falseNegatives: number;
  readonly testImages: number;
}

function finiteOrNull(value: number | null): number | null {
  return value !== null && Number.isFinite(value) ? value : null;
}

export function evaluation(
  input: Omit<Evaluation, 'verdict' | 'correct'> & { readonly isAnomalous: boolean },
): Evaluation {
  const verdict: Label = input.isAnomalous ? 'anomaly' : 'normal';
  return {
    imageId: input.imageId,
    expected: input.expected,
    score: input.score,
    rawScore: input.rawScore,
    verdict,
    correct: verdict === input.expected,
    maskKey: input.maskKey,
  };
}

/** Maps the per-image results to the version's metrics with the engine's metric functions. Anomaly = positive. */
export function summariseEvaluation(
  rows: readonly Evaluation[],
  threshold: number,
  pixelAuroc: number | null,
  metrics: Engine['metrics'],
): ModelMetrics {
  const c: EngineConfusion = {
    tp: rows.filter((r) => r.expected === 'anomaly' && r.verdict === 'anomaly').length,
    fp: rows.filter((r) => r.expected === 'normal' && r.verdict === 'anomaly').length,
    tn: rows.filter((r) => r.expected === 'normal' && r.verdict === 'normal').length,
    fn: rows.filter((r) => r.expected === 'anomaly' && r.verdict === 'normal').length,
  };
  const { precision, recall, f1 } = metrics.precisionRecallF1(c);
  const auroc = metrics.auroc(
    rows.map((r) => r.rawScore),
    rows.map((r) => (r.expected === 'anomaly' ? 1 : 0)),
  );
  return {
    precision,
    recall,
    f1,
    auroc: finiteOrNull(auroc),
    pixelAuroc: finiteOrNull(pixelAuroc),
    threshold,
    truePositives: c.tp,
    falsePositives: c.fp,
    trueNegatives: c.tn,
    falseNegatives: c.fn,
    testImages: rows.length,
  };
}
