import { describe, expect, it } from '@jest/globals';
import { isVigilError } from '@vigil/contracts';
import { CreateModelInputSchema, parseInput, trainingSettings, TrainingSettingsSchema } from './create-input';

const split = { testFraction: 0.2, seed: 42 };

function badInput(input: unknown): string {
  try {
    parseInput(CreateModelInputSchema, input);
  } catch (error) {
    if (isVigilError(error) && error.code === 'BAD_USER_INPUT') return error.message;
    throw error;
  }
  throw new Error('expected BAD_USER_INPUT');
}

describe('createModel input', () => {
  it('defaults to the F1 threshold and the engine defaults', () => {
    const settings = trainingSettings(parseInput(CreateModelInputSchema, { project: { name: 'p' } }), split);
    expect(settings).toEqual({ threshold: { mode: 'f1' }, config: {}, seed: 1234, split });
    expect(TrainingSettingsSchema.parse(JSON.parse(JSON.stringify(settings)))).toEqual(settings);
  });

  it('maps threshold policies and pinned engine settings to the engine', () => {
    const input = parseInput(CreateModelInputSchema, {
      project: { id: 'x' },
      threshold: { mode: 'FALSE_REJECT_RATE', rate: 0.01 },
      engine: { inputSize: 128, topK: 3, aggregation: 5, reweight: true, seed: 9 },
    });
    expect(trainingSettings(input, split)).toEqual({
      threshold: { mode: 'falseRejectRate', rate: 0.01 },
      config: { inputSize: 128, topK: 3, aggregation: 5, reweight: true },
      seed: 9,
      split,
    });
    const miss = parseInput(CreateModelInputSchema, {
      project: { id: 'x' },
      threshold: { mode: 'MISS_RATE', rate: 0.05 },
    });
    expect(trainingSettings(miss, split).threshold).toEqual({ mode: 'missRate', rate: 0.05 });
  });

  it('rejects bad values with BAD_USER_INPUT naming the field', () => {
    expect(badInput({ project: {}, threshold: { mode: 'MISS_RATE' } })).toMatch(/threshold\.rate/);
    expect(badInput({ project: {}, threshold: { mode: 'F1', rate: 2 } })).toMatch(/rate/);
    expect(badInput({ project: {}, engine: { aggregation: 4 } })).toMatch(/odd/);
    expect(badInput({ project: {}, engine: { inputSize: 8 } })).toMatch(/inputSize/);
    expect(badInput({ project: {}, description: 'x'.repeat(2001) })).toMatch(/description/);
  });
});
