import { z } from 'zod';
import { modelArn, projectArn } from '../arn';
import { datasetStatus } from './datasets';
import { findProject } from './lookups';
import { jsonBody, pageSizeParam, projectNameParam, queryParam, RESOURCE_NAME } from './request';
import { callGraphQL, epochSeconds, nextTokenOf, type Connection } from './shared';
import type { LookoutOperation } from './types';

const CreateProjectBody = z.object({ ProjectName: z.string().min(1).max(255).regex(RESOURCE_NAME) });

/** CreateProject, ListProjects, DescribeProject, DeleteProject. */
export const projectOperations: readonly LookoutOperation[] = [
  {
    name: 'CreateProject',
    method: 'POST',
    path: '/projects',
    idempotent: true,
    async handle(call, deps) {
      const body = jsonBody(call, CreateProjectBody);
      const data = await callGraphQL<{ createProject: { name: string; createdAt: string } }>(
        deps,
        call,
        'mutation LookoutCreateProject($name: String!) { createProject(input: { name: $name }) { name createdAt } }',
        { name: body.ProjectName },
      );
      const project = data.createProject;
      return {
        status: 200,
        body: {
          ProjectMetadata: {
            ProjectArn: projectArn(deps.arns, project.name),
            ProjectName: project.name,
            CreationTimestamp: epochSeconds(project.createdAt),
          },
        },
      };
    },
  },
  {
    name: 'ListProjects',
    method: 'GET',
    path: '/projects',
    idempotent: false,
    async handle(call, deps) {
      const first = pageSizeParam(call);
      const after = queryParam(call, 'nextToken');
      const data = await callGraphQL<{ projects: Connection<{ name: string; createdAt: string }> }>(
        deps,
        call,
        'query LookoutProjects($first: Int, $after: String) { projects(first: $first, after: $after) { nodes { name createdAt } pageInfo { hasNextPage endCursor } } }',
        { first, ...(after ? { after } : {}) },
      );
      return {
        status: 200,
        body: {
          Projects: data.projects.nodes.map((p) => ({
            ProjectArn: projectArn(deps.arns, p.name),
            ProjectName: p.name,
            CreationTimestamp: epochSeconds(p.createdAt),
          })),
          ...nextTokenOf(data.projects),
        },
      };
    },
  },
  {
    name: 'DescribeProject',
    method: 'GET',
    path: '/projects/:projectName',
    idempotent: false,
    async handle(call, deps) {
      const project = await findProject(deps, call, projectNameParam(call));
      const datasets = [];
      for (const dataset of project.datasets) {
        const type = dataset.type === 'TRAIN' ? 'train' : 'test';
        datasets.push({
          CreationTimestamp: epochSeconds(dataset.createdAt),
          DatasetType: type,
          ...(await datasetStatus(deps, call, project.id, type)),
        });
      }
      return {
        status: 200,
        body: {
          ProjectDescription: {
            ProjectArn: projectArn(deps.arns, project.name),
            ProjectName: project.name,
            CreationTimestamp: epochSeconds(project.createdAt),
            Datasets: datasets,
          },
        },
      };
    },
  },
  {
    name: 'DeleteProject',
    method: 'DELETE',
    path: '/projects/:projectName',
    idempotent: true,
    async handle(call, deps) {
      const project = await findProject(deps, call, projectNameParam(call));
      await callGraphQL(deps, call, 'mutation LookoutDeleteProject($id: ID!) { deleteProject(id: $id) { id } }', {
        id: project.id,
      });
      // Its tags and, by ARN prefix (`…:model/<name>/`), those of all its models go with it.
      await deps.store.dropTags(projectArn(deps.arns, project.name));
      await deps.store.dropTags(modelArn(deps.arns, project.name, ''));
      return { status: 200, body: { ProjectArn: projectArn(deps.arns, project.name) } };
    },
  },
];
