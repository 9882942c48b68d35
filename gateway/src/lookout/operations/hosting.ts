import { z } from 'zod';
import { errors } from '@vigil/contracts';
import { findModel, modelInPath } from './lookups';
import { jsonBody, modelVersionParam, projectNameParam } from './request';
import { callGraphQL } from './shared';
import type { LookoutOperation } from './types';

/** Inference units are the inference service's workers; without a maximum, the minimum is the fixed size. */
const StartModelBody = z.object({
  MinInferenceUnits: z.number().int().min(1),
  MaxInferenceUnits: z.number().int().min(1).optional(),
});

/** StartModel, StopModel: hosting a trained version on the inference service. */
export const hostingOperations: readonly LookoutOperation[] = [
  {
    name: 'StartModel',
    method: 'POST',
    path: '/projects/:projectName/models/:modelVersion/start',
    idempotent: true,
    async handle(call, deps) {
      const name = projectNameParam(call);
      const body = jsonBody(call, StartModelBody);
      if (body.MaxInferenceUnits !== undefined && body.MaxInferenceUnits < body.MinInferenceUnits) {
        throw errors.badInput('MaxInferenceUnits must be at least MinInferenceUnits');
      }
      const model = await findModel(deps, call, name, modelVersionParam(call));
      const data = await callGraphQL<{ startModel: { status: string } }>(
        deps,
        call,
        'mutation LookoutStartModel($id: ID!, $min: Int, $max: Int) { startModel(modelVersionId: $id, minWorkers: $min, maxWorkers: $max) { status } }',
        { id: model.id, min: body.MinInferenceUnits, max: body.MaxInferenceUnits ?? body.MinInferenceUnits },
      );
      return { status: 202, body: { Status: data.startModel.status } };
    },
  },
  {
    name: 'StopModel',
    method: 'POST',
    path: '/projects/:projectName/models/:modelVersion/stop',
    idempotent: true,
    async handle(call, deps) {
      const { model } = await modelInPath(deps, call);
      const data = await callGraphQL<{ stopModel: { status: string } }>(
        deps,
        call,
        'mutation LookoutStopModel($id: ID!) { stopModel(modelVersionId: $id) { status } }',
        { id: model.id },
      );
      return { status: 202, body: { Status: data.stopModel.status } };
    },
  },
];
