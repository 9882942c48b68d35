import { z } from 'zod';
import { modelArn } from '../arn';
import { evaluationLocation } from './evaluation';
import { MODEL_FIELDS, modelInPath, type ModelNode } from './lookups';
import { idempotencyKeyOf, jsonBody, offsetToken, offsetTokenParam, pageSizeParam, projectNameParam } from './request';
import { callGraphQL, epochSeconds, queryProject } from './shared';
import { TagList, tagMap } from './tags';
import type { LookoutDeps, LookoutOperation } from './types';

const CreateModelBody = z.object({
  Description: z.string().max(500).optional(),
  OutputConfig: z
    .object({ S3Location: z.object({ Bucket: z.string().min(3).max(63), Prefix: z.string().max(500).optional() }) })
    .optional(),
  // Accepted for compatibility and ignored: Vigil has no KMS keys.
  KmsKeyId: z.string().optional(),
  Tags: TagList.optional(),
});

/** Lookout's wording for a status when the training service gave no message of its own. */
const STATUS_MESSAGES: Readonly<Record<string, string>> = {
  TRAINING: 'Training in progress',
  TRAINED: 'Training completed successfully',
  TRAINING_FAILED: 'Training failed',
  STARTING_HOSTING: 'Hosting starting',
  HOSTED: 'Model is hosted',
  HOSTING_FAILED: 'Hosting failed',
  STOPPING_HOSTING: 'Hosting stopping',
  DELETING: 'Model is being deleted',
};

function modelMetadata(deps: LookoutDeps, project: string, model: ModelNode): Record<string, unknown> {
  return {
    CreationTimestamp: epochSeconds(model.createdAt),
    ModelVersion: String(model.version),
    ModelArn: modelArn(deps.arns, project, model.version),
    ...(model.description ? { Description: model.description } : {}),
    Status: model.status,
    StatusMessage: model.statusMessage ?? STATUS_MESSAGES[model.status] ?? model.status,
    ...(model.metrics
      ? { Performance: { F1Score: model.metrics.f1, Recall: model.metrics.recall, Precision: model.metrics.precision } }
      : {}),
  };
}

/** CreateModel, ListModels, DescribeModel, DeleteModel. */
export const modelOperations: readonly LookoutOperation[] = [
  {
    name: 'CreateModel',
    method: 'POST',
    path: '/projects/:projectName/models',
    idempotent: true,
    async handle(call, deps) {
      const name = projectNameParam(call);
      const body = jsonBody(call, CreateModelBody);
      const data = await callGraphQL<{ createModel: ModelNode }>(
        deps,
        call,
        `mutation LookoutCreateModel($input: CreateModelInput!) { createModel(input: $input) { ${MODEL_FIELDS} } }`,
        {
          input: {
            project: { name },
            ...(body.Description ? { description: body.Description } : {}),
            // The training service's own idempotency: a retried CreateModel never trains twice.
            ...idempotencyKeyOf(call, `CreateModel:${name}`),
          },
        },
      );
      const model = data.createModel;
      const location = body.OutputConfig?.S3Location;
      if (location) {
        await deps.store.saveModelOutput(model.id, { bucket: location.Bucket, prefix: location.Prefix ?? '' });
      }
      if (body.Tags?.length) await deps.store.putTags(modelArn(deps.arns, name, model.version), tagMap(body.Tags));
      return { status: 202, body: { ModelMetadata: modelMetadata(deps, name, model) } };
    },
  },
  {
    name: 'ListModels',
    method: 'GET',
    path: '/projects/:projectName/models',
    idempotent: false,
    async handle(call, deps) {
      const name = projectNameParam(call);
      const limit = pageSizeParam(call);
      const offset = offsetTokenParam(call);
      const data = await queryProject<{ project: { models: ModelNode[] } }>(
        deps,
        call,
        name,
        `query LookoutModels($name: String!) { project(name: $name) { models { ${MODEL_FIELDS} } } }`,
      );
      const page = data.project.models.slice(offset, offset + limit);
      const next = offset + limit < data.project.models.length ? offsetToken(offset + limit) : undefined;
      return {
        status: 200,
        body: { Models: page.map((m) => modelMetadata(deps, name, m)), ...(next ? { NextToken: next } : {}) },
      };
    },
  },
  {
    name: 'DescribeModel',
    method: 'GET',
    path: '/projects/:projectName/models/:modelVersion',
    idempotent: false,
    async handle(call, deps) {
      const { name, model } = await modelInPath(deps, call);
      const output = await deps.store.modelOutput(model.id);
      const evaluation = await evaluationLocation(deps, call, name, model, output);
      return {
        status: 200,
        body: {
          ModelDescription: {
            ...modelMetadata(deps, name, model),
            ...(model.trainedAt ? { EvaluationEndTimestamp: epochSeconds(model.trainedAt) } : {}),
            ...(output
              ? {
                  OutputConfig: {
                    S3Location: { Bucket: output.bucket, ...(output.prefix ? { Prefix: output.prefix } : {}) },
                  },
                }
              : {}),
            ...(evaluation
              ? {
                  EvaluationManifest: { Bucket: evaluation.bucket, Key: evaluation.manifestKey },
                  EvaluationResult: { Bucket: evaluation.bucket, Key: evaluation.resultKey },
                }
              : {}),
            ...(model.hosting
              ? { MinInferenceUnits: model.hosting.minWorkers, MaxInferenceUnits: model.hosting.maxWorkers }
              : {}),
          },
        },
      };
    },
  },
  {
    name: 'DeleteModel',
    method: 'DELETE',
    path: '/projects/:projectName/models/:modelVersion',
    idempotent: true,
    async handle(call, deps) {
      const { name, model } = await modelInPath(deps, call);
      await callGraphQL(deps, call, 'mutation LookoutDeleteModel($id: ID!) { deleteModel(id: $id) { id } }', {
        id: model.id,
      });
      const arn = modelArn(deps.arns, name, model.version);
      // This ARN's tags only: dropTags matches a prefix, and version 1's would take version 10's with it.
      await deps.store.removeTags(arn, Object.keys(await deps.store.tags(arn)));
      return { status: 202, body: { ModelArn: arn } };
    },
  },
];
