import { describe, expect, it } from '@jest/globals';
import { canTransition, HOSTING_STATUSES, MODEL_STATUSES, ModelStatus } from './statuses';

describe('model statuses', () => {
  it("are Lookout's", () => {
    expect(MODEL_STATUSES).toEqual([
      'TRAINING',
      'TRAINED',
      'TRAINING_FAILED',
      'STARTING_HOSTING',
      'HOSTED',
      'HOSTING_FAILED',
      'STOPPING_HOSTING',
      'DELETING',
    ]);
  });

  it('allow only the training transitions this service makes', () => {
    expect(canTransition(ModelStatus.Training, ModelStatus.Trained)).toBe(true);
    expect(canTransition(ModelStatus.Training, ModelStatus.TrainingFailed)).toBe(true);
    expect(canTransition(ModelStatus.TrainingFailed, ModelStatus.Training)).toBe(true);
    expect(canTransition(ModelStatus.Trained, ModelStatus.Deleting)).toBe(true);
    expect(canTransition(ModelStatus.Trained, ModelStatus.Training)).toBe(false);
    expect(canTransition(ModelStatus.Training, ModelStatus.Deleting)).toBe(false);
    for (const hosting of HOSTING_STATUSES) expect(canTransition(hosting, ModelStatus.Deleting)).toBe(false);
  });
});
