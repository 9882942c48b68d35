/** The project, dataset and model a Lookout path names, read from the services with Lookout's not-found errors. */
import type { DatasetType } from './request';
import { notFound, queryProject } from './shared';
import type { LookoutCall, LookoutDeps } from './types';

interface DatasetNode {
  id: string;
  type: 'TRAIN' | 'TEST';
  createdAt: string;
  updatedAt: string;
  stats: { total: number; normal: number; anomaly: number; unlabelled: number };
}

interface ProjectNode {
  id: string;
  name: string;
  createdAt: string;
  datasets: DatasetNode[];
}

const PROJECT_FIELDS =
  'id name createdAt datasets { id type createdAt updatedAt stats { total normal anomaly unlabelled } }';

export interface ModelNode {
  id: string;
  version: number;
  status: string;
  statusMessage: string | null;
  description: string | null;
  createdAt: string;
  trainedAt: string | null;
  metrics: { precision: number; recall: number; f1: number; threshold: number } | null;
  hosting: { minWorkers: number; maxWorkers: number } | null;
}

export const MODEL_FIELDS =
  'id version status statusMessage description createdAt trainedAt metrics { precision recall f1 threshold } hosting { minWorkers maxWorkers }';

export async function findProject(deps: LookoutDeps, call: LookoutCall, name: string): Promise<ProjectNode> {
  const data = await queryProject<{ project: ProjectNode }>(
    deps,
    call,
    name,
    `query LookoutProject($name: String!) { project(name: $name) { ${PROJECT_FIELDS} } }`,
  );
  return data.project;
}

export function findDataset(project: ProjectNode, type: DatasetType): DatasetNode {
  const dataset = project.datasets.find((d) => d.type === type.toUpperCase());
  if (!dataset) throw notFound('dataset', `${project.name}/${type}`);
  return dataset;
}

export async function findModel(
  deps: LookoutDeps,
  call: LookoutCall,
  project: string,
  version: number,
): Promise<ModelNode> {
  const data = await queryProject<{ project: { model: ModelNode | null } }>(
    deps,
    call,
    project,
    `query LookoutModel($name: String!, $version: Int!) { project(name: $name) { model(version: $version) { ${MODEL_FIELDS} } } }`,
    { version },
  );
  if (!data.project.model) throw notFound('model', `${project}/${version}`);
  return data.project.model;
}
