import type { ModelOutput } from '../store';
import type { ModelNode } from './lookups';
import { callGraphQL, type Connection } from './shared';
import type { LookoutCall, LookoutDeps } from './types';

interface EvaluationNode {
  image: { id: string };
  expected: 'NORMAL' | 'ANOMALY';
  score: number;
  verdict: 'NORMAL' | 'ANOMALY';
  correct: boolean;
}

interface WrittenEvaluation {
  bucket: string;
  manifestKey: string;
  resultKey: string;
}

async function allEvaluations(deps: LookoutDeps, call: LookoutCall, modelId: string): Promise<EvaluationNode[]> {
  const nodes: EvaluationNode[] = [];
  let after: string | undefined;
  for (;;) {
    const data = await callGraphQL<{ modelVersion: { evaluation: Connection<EvaluationNode> } }>(
      deps,
      call,
      `query LookoutEvaluation($id: ID!, $after: String) { modelVersion(id: $id) { evaluation(first: 200, after: $after) {
        nodes { image { id } expected score verdict correct } pageInfo { hasNextPage endCursor } } } }`,
      { id: modelId, ...(after ? { after } : {}) },
    );
    nodes.push(...data.modelVersion.evaluation.nodes);
    const info = data.modelVersion.evaluation.pageInfo;
    if (!info.hasNextPage || !info.endCursor) return nodes;
    after = info.endCursor;
  }
}

/** One test image as a line of Lookout's evaluation manifest: its label and the model's verdict. */
function evaluationManifestLine(node: EvaluationNode): string {
  return JSON.stringify({
    'source-ref': `vigil://objects/${node.image.id}`,
    'anomaly-label': node.expected === 'ANOMALY' ? 1 : 0,
    'anomaly-label-metadata': {
      'class-name': node.expected === 'ANOMALY' ? 'anomaly' : 'normal',
      type: 'groundtruth/image-classification',
    },
    'anomaly-label-detected': node.verdict === 'ANOMALY' ? 1 : 0,
    'anomaly-label-detected-metadata': {
      'class-name': node.verdict === 'ANOMALY' ? 'anomaly' : 'normal',
      confidence: node.score,
      correct: node.correct,
    },
  });
}

/**
 * Writes a trained version's evaluation where CreateModel's OutputConfig said, the first time DescribeModel
 * sees it trained: a manifest of the test images with the model's verdicts, and a result JSON with metrics.
 * Undefined when there is nothing to write (no writer configured, or the version has no metrics yet).
 */
async function writeEvaluation(
  deps: LookoutDeps,
  call: LookoutCall,
  project: string,
  model: ModelNode,
  output: { bucket: string; prefix: string },
): Promise<WrittenEvaluation | undefined> {
  const writer = deps.outputs;
  if (!writer || !model.metrics) return undefined;
  const nodes = await allEvaluations(deps, call, model.id);
  const base = `${output.prefix}${output.prefix && !output.prefix.endsWith('/') ? '/' : ''}${project}/model/${model.version}`;
  const manifestKey = `${base}/evaluation-manifest.manifest`;
  const resultKey = `${base}/evaluation-result.json`;
  const manifest = nodes.map(evaluationManifestLine).join('\n');
  const result = {
    Version: model.version,
    EvaluationDetails: { EvaluationEndTimestamp: model.trainedAt, NumberOfTestImages: nodes.length },
    AggregatedEvaluationResults: {
      Metrics: { Precision: model.metrics.precision, Recall: model.metrics.recall, F1Score: model.metrics.f1 },
      Threshold: model.metrics.threshold,
    },
  };
  await writer.write({ bucket: output.bucket, key: manifestKey }, manifest ? `${manifest}\n` : '');
  await writer.write({ bucket: output.bucket, key: resultKey }, JSON.stringify(result, null, 2));
  await deps.store.markModelOutputWritten(model.id, { manifestKey, resultKey });
  return { bucket: output.bucket, manifestKey, resultKey };
}

/**
 * Where a version's evaluation is in the customer's bucket: written already, written now (the first DescribeModel
 * that sees the version trained), or nowhere (no OutputConfig, no writer, not trained yet).
 */
export async function evaluationLocation(
  deps: LookoutDeps,
  call: LookoutCall,
  project: string,
  model: ModelNode,
  output: ModelOutput | undefined,
): Promise<WrittenEvaluation | undefined> {
  if (!output) return undefined;
  if (output.manifestKey && output.resultKey) {
    return { bucket: output.bucket, manifestKey: output.manifestKey, resultKey: output.resultKey };
  }
  return writeEvaluation(deps, call, project, model, output);
}
