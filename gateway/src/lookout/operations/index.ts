import { datasetEntryOperations } from './dataset-entries';
import { datasetOperations } from './datasets';
import { detectOperations } from './detect';
import { hostingOperations } from './hosting';
import { modelOperations } from './models';
import { packagingOperations } from './packaging';
import { projectOperations } from './projects';
import { tagOperations } from './tags';
import type { LookoutOperation } from './types';

export type { EvaluationWriter, LookoutDeps, LookoutOperation } from './types';

/** Every Lookout for Vision operation this layer serves; the router mounts each at its method and path. */
export const OPERATIONS: readonly LookoutOperation[] = [
  ...projectOperations,
  ...datasetOperations,
  ...datasetEntryOperations,
  ...modelOperations,
  ...hostingOperations,
  ...detectOperations,
  ...packagingOperations,
  ...tagOperations,
];
