/** Lookout for Vision's model statuses, kept verbatim so clients migrate unchanged. */
export const ModelStatus = {
  Training: 'TRAINING',
  Trained: 'TRAINED',
  TrainingFailed: 'TRAINING_FAILED',
  StartingHosting: 'STARTING_HOSTING',
  Hosted: 'HOSTED',
  HostingFailed: 'HOSTING_FAILED',
  StoppingHosting: 'STOPPING_HOSTING',
  Deleting: 'DELETING',
} as const;
export type ModelStatus = (typeof ModelStatus)[keyof typeof ModelStatus];
export const MODEL_STATUSES: readonly ModelStatus[] = Object.values(ModelStatus);

/** Statuses owned by hosting (the inference service): a model in one of them cannot be deleted. */
export const HOSTING_STATUSES: readonly ModelStatus[] = [
  ModelStatus.StartingHosting,
  ModelStatus.Hosted,
  ModelStatus.StoppingHosting,
];

/**
 * The transitions the training service makes. Hosting transitions (TRAINED -> STARTING_HOSTING -> …) belong
 * to the inference service and are not listed here.
 */
const TRANSITIONS: Readonly<Partial<Record<ModelStatus, readonly ModelStatus[]>>> = {
  [ModelStatus.Training]: [ModelStatus.Trained, ModelStatus.TrainingFailed],
  // A retried job (its process died) trains again.
  [ModelStatus.TrainingFailed]: [ModelStatus.Training, ModelStatus.Deleting],
  [ModelStatus.Trained]: [ModelStatus.Deleting],
  [ModelStatus.HostingFailed]: [ModelStatus.Deleting],
};

export function canTransition(from: ModelStatus, to: ModelStatus): boolean {
  return TRANSITIONS[from]?.includes(to) ?? false;
}

/** The statusMessage of a version whose training was cancelled. */
export const CANCELLED_MESSAGE = 'cancelled';
