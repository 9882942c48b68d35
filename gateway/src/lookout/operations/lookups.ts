/** The project, dataset and model a Lookout path names, read from the services with Lookout's not-found errors. */
import { datasetTypeParam, modelVersionParam, projectNameParam, type DatasetType } from './request';
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

/**
 * The dataset a `/projects/:projectName/datasets/:datasetType` path names, with its project. The type is checked
 * before the project name, and both before anything is read, as each operation did on its own.
 */
export async function datasetInPath(
  deps: LookoutDeps,
  call: LookoutCall,
): Promise<{ type: DatasetType; project: ProjectNode; dataset: DatasetNode }> {
  const type = datasetTypeParam(call);
  const project = await findProject(deps, call, projectNameParam(call));
  return { type, project, dataset: findDataset(project, type) };
}

/**
 * The model a `/projects/:projectName/models/:modelVersion` path names; `name` is the project's name as sent.
 * Operations that check a body or header between the two path parameters call findModel themselves, so their
 * first ValidationException stays the same.
 */
export async function modelInPath(deps: LookoutDeps, call: LookoutCall): Promise<{ name: string; model: ModelNode }> {
  const name = projectNameParam(call);
  return { name, model: await findModel(deps, call, name, modelVersionParam(call)) };
}
