import { z } from 'zod';
import { isRole } from '@vigil/contracts';

/** The training service's background work. Names are part of the queue contract: never rename. */
export const TrainingQueue = { Training: 'training' } as const;
export const TrainingJobKind = { TrainModel: 'training.train-model' } as const;

const ActorSchema = z.object({
  principal: z.object({ id: z.string(), name: z.string(), role: z.string().refine(isRole) }),
  requestId: z.string().optional(),
});

/** Everything else (project, settings) is on the model version row the job trains. */
export const TrainModelPayloadSchema = z.object({
  modelVersionId: z.string(),
  actor: ActorSchema,
});
export type TrainModelPayload = z.infer<typeof TrainModelPayloadSchema>;
