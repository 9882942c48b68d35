import { z } from 'zod';
import { ErrorCode, VigilError } from '@vigil/contracts';
import { datasetInPath, findProject } from './lookups';
import { idempotencyKeyOf, jsonBody, projectNameParam, type DatasetType } from './request';
import { callGraphQL, epochSeconds } from './shared';
import type { LookoutCall, LookoutDeps, LookoutOperation } from './types';

const CreateDatasetBody = z.object({
  DatasetType: z.string().regex(/^(train|test)$/, "must be 'train' or 'test'"),
  DatasetSource: z
    .object({
      GroundTruthManifest: z
        .object({
          // VersionId is accepted for compatibility; the manifest is read at its current version.
          S3Object: z.object({
            Bucket: z.string().min(3).max(255),
            Key: z.string().min(1).max(1024),
            VersionId: z.string().optional(),
          }),
        })
        .optional(),
    })
    .optional(),
});

interface DatasetStatus {
  Status: string;
  StatusMessage: string;
}

/** A dataset created empty, or whose import this layer never started, is complete as it stands. */
const CREATED: DatasetStatus = { Status: 'CREATE_COMPLETE', StatusMessage: 'Dataset created' };

interface ImportJobNode {
  status: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  error: { message: string } | null;
  summary: { failures: { line: number | null; message: string }[] } | null;
}

/**
 * Lookout's dataset status, which the services do not keep: derived from the latest import job this layer
 * started for the dataset (CreateDataset from a manifest, UpdateDatasetEntries).
 */
export async function datasetStatus(
  deps: LookoutDeps,
  call: LookoutCall,
  projectId: string,
  type: DatasetType,
): Promise<DatasetStatus> {
  const ref = await deps.store.latestDatasetJob(projectId, type);
  if (!ref) return CREATED;
  const { datasetImportJob: job } = await callGraphQL<{ datasetImportJob: ImportJobNode }>(
    deps,
    call,
    'query LookoutDatasetJob($id: ID!) { datasetImportJob(id: $id) { status error { message } summary { failures { line message } } } }',
    { id: ref.jobId },
  );
  const creating = ref.kind === 'create';
  const verb = creating ? 'CREATE' : 'UPDATE';
  switch (job.status) {
    case 'QUEUED':
    case 'RUNNING':
      return { Status: `${verb}_IN_PROGRESS`, StatusMessage: creating ? 'Creating dataset' : 'Updating dataset' };
    case 'SUCCEEDED':
      return { Status: `${verb}_COMPLETE`, StatusMessage: creating ? 'Dataset created' : 'Dataset updated' };
    default: {
      const failure = job.summary?.failures[0];
      const message =
        job.error?.message ??
        (failure ? `${failure.line ? `line ${failure.line}: ` : ''}${failure.message}` : `import ${job.status}`);
      return { Status: creating ? 'CREATE_FAILED' : 'UPDATE_FAILED_ROLLBACK_COMPLETE', StatusMessage: message };
    }
  }
}

/** CreateDataset, DescribeDataset, DeleteDataset. */
export const datasetOperations: readonly LookoutOperation[] = [
  {
    name: 'CreateDataset',
    method: 'POST',
    path: '/projects/:projectName/datasets',
    idempotent: true,
    async handle(call, deps) {
      const body = jsonBody(call, CreateDatasetBody);
      const type: DatasetType = body.DatasetType === 'test' ? 'test' : 'train';
      const project = await findProject(deps, call, projectNameParam(call));
      if (project.datasets.some((d) => d.type === type.toUpperCase())) {
        throw new VigilError(ErrorCode.Conflict, `project '${project.name}' already has a ${type} dataset`, {
          entity: 'dataset',
          id: `${project.name}/${type}`,
        });
      }
      const created = await callGraphQL<{ createDataset: { createdAt: string } }>(
        deps,
        call,
        'mutation LookoutCreateDataset($projectId: ID!, $type: DatasetType!) { createDataset(projectId: $projectId, type: $type) { createdAt } }',
        { projectId: project.id, type: type.toUpperCase() },
      );
      const s3 = body.DatasetSource?.GroundTruthManifest?.S3Object;
      let status = CREATED;
      if (s3) {
        // The dataset service reads the manifest and its images through the configured S3 client.
        const job = await callGraphQL<{ importManifest: { id: string } }>(
          deps,
          call,
          'mutation LookoutImport($input: ImportManifestInput!) { importManifest(input: $input) { id } }',
          {
            input: {
              project: { id: project.id },
              datasetType: type.toUpperCase(),
              manifestUri: `s3://${s3.Bucket}/${s3.Key}`,
              ...idempotencyKeyOf(call, `CreateDataset:${project.id}:${type}`),
            },
          },
        );
        await deps.store.recordDatasetJob(project.id, type, { jobId: job.importManifest.id, kind: 'create' });
        status = { Status: 'CREATE_IN_PROGRESS', StatusMessage: 'Creating dataset' };
      }
      return {
        status: 202,
        body: {
          DatasetMetadata: {
            DatasetType: type,
            CreationTimestamp: epochSeconds(created.createDataset.createdAt),
            ...status,
          },
        },
      };
    },
  },
  {
    name: 'DescribeDataset',
    method: 'GET',
    path: '/projects/:projectName/datasets/:datasetType',
    idempotent: false,
    async handle(call, deps) {
      const { type, project, dataset } = await datasetInPath(deps, call);
      const { stats } = dataset;
      return {
        status: 200,
        body: {
          DatasetDescription: {
            ProjectName: project.name,
            DatasetType: type,
            CreationTimestamp: epochSeconds(dataset.createdAt),
            LastUpdatedTimestamp: epochSeconds(dataset.updatedAt),
            ...(await datasetStatus(deps, call, project.id, type)),
            ImageStats: {
              Total: stats.total,
              Labeled: stats.normal + stats.anomaly,
              Normal: stats.normal,
              Anomaly: stats.anomaly,
            },
          },
        },
      };
    },
  },
  {
    name: 'DeleteDataset',
    method: 'DELETE',
    path: '/projects/:projectName/datasets/:datasetType',
    idempotent: true,
    async handle(call, deps) {
      const { type, project, dataset } = await datasetInPath(deps, call);
      await callGraphQL(deps, call, 'mutation LookoutDeleteDataset($id: ID!) { deleteDataset(id: $id) { id } }', {
        id: dataset.id,
      });
      await deps.store.forgetDatasetJobs(project.id, type);
      return { status: 202, body: {} };
    },
  },
];
