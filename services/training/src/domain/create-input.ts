import { z } from 'zod';
import { errors } from '@vigil/contracts';
import type { TrainOptions } from '@vigil/engine';

const ProjectRefSchema = z.object({ id: z.string().nullish(), name: z.string().nullish() });

const ThresholdSchema = z
  .object({
    mode: z.enum(['F1', 'FALSE_REJECT_RATE', 'MISS_RATE']),
    rate: z.number().gt(0).lt(1).nullish(),
  })
  .refine((t) => t.mode === 'F1' || typeof t.rate === 'number', {
    message: 'a target false-reject or miss rate needs a rate between 0 and 1',
    path: ['rate'],
  });

/** Engine settings a user may pin; everything else is the engine's default. */
const EngineSettingsSchema = z.object({
  inputSize: z.number().int().min(64).max(1024).nullish(),
  topK: z.number().int().min(1).max(100).nullish(),
  coresetRatio: z.number().gt(0).max(1).nullish(),
  aggregation: z
    .number()
    .int()
    .min(1)
    .max(9)
    .refine((n) => n % 2 === 1, 'aggregation must be odd')
    .nullish(),
  reweight: z.boolean().nullish(),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 31 - 1)
    .nullish(),
});

export const CreateModelInputSchema = z.object({
  project: ProjectRefSchema,
  description: z.string().trim().max(2000).nullish(),
  idempotencyKey: z.string().min(1).max(200).nullish(),
  threshold: ThresholdSchema.nullish(),
  engine: EngineSettingsSchema.nullish(),
});
export type CreateModelInput = z.infer<typeof CreateModelInputSchema>;

export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success)
    throw errors.badInput(parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
  return parsed.data;
}

/** What a version records about how it is to be trained (its engine_config), in the engine's terms. */
export interface TrainingSettings {
  readonly threshold: NonNullable<TrainOptions['threshold']>;
  readonly config: {
    inputSize?: number;
    topK?: number;
    coresetRatio?: number;
    aggregation?: number;
    reweight?: boolean;
  };
  readonly seed: number;
  readonly split: { readonly testFraction: number; readonly seed: number };
}

export const TrainingSettingsSchema = z.object({
  threshold: z.union([
    z.object({ mode: z.literal('f1') }),
    z.object({ mode: z.literal('falseRejectRate'), rate: z.number() }),
    z.object({ mode: z.literal('missRate'), rate: z.number() }),
  ]),
  config: z.object({
    inputSize: z.number().optional(),
    topK: z.number().optional(),
    coresetRatio: z.number().optional(),
    aggregation: z.number().optional(),
    reweight: z.boolean().optional(),
  }),
  seed: z.number(),
  split: z.object({ testFraction: z.number(), seed: z.number() }),
});

export const DEFAULT_TRAINING_SEED = 1234;

export function trainingSettings(
  input: CreateModelInput,
  split: { testFraction: number; seed: number },
): TrainingSettings {
  const t = input.threshold;
  const threshold: TrainingSettings['threshold'] =
    !t || t.mode === 'F1'
      ? { mode: 'f1' }
      : t.mode === 'FALSE_REJECT_RATE'
        ? { mode: 'falseRejectRate', rate: t.rate as number }
        : { mode: 'missRate', rate: t.rate as number };
  const e = input.engine ?? {};
  const config: TrainingSettings['config'] = {};
  if (e.inputSize != null) config.inputSize = e.inputSize;
  if (e.topK != null) config.topK = e.topK;
  if (e.coresetRatio != null) config.coresetRatio = e.coresetRatio;
  if (e.aggregation != null) config.aggregation = e.aggregation;
  if (e.reweight != null) config.reweight = e.reweight;
  return { threshold, config, seed: e.seed ?? DEFAULT_TRAINING_SEED, split };
}
