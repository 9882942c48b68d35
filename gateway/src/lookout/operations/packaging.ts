import { z } from 'zod';
import { jsonBody, MODEL_VERSION, pageSizeParam, projectNameParam, queryParam } from './request';
import { callGraphQL, epochSeconds, nextTokenOf, type Connection } from './shared';
import type { LookoutOperation } from './types';

const StartPackagingBody = z.object({
  ModelVersion: z.string().regex(MODEL_VERSION, 'must be a version number'),
  JobName: z.string().min(1).max(64).optional(),
  Description: z.string().max(256).optional(),
  Configuration: z.object({
    Greengrass: z
      .object({
        ComponentName: z.string().min(1).max(128),
        ComponentVersion: z.string().optional(),
        ComponentDescription: z.string().optional(),
        S3OutputLocation: z.object({ Bucket: z.string().min(3).max(63), Prefix: z.string().max(1024).optional() }),
      })
      // Fields this layer does not read (TargetDevice, CompilerOptions, …) are kept: the configuration is stored
      // and DescribeModelPackagingJob gives it back as it was sent.
      .passthrough(),
  }),
});

interface PackagingNode {
  name: string;
  modelVersionNumber: number;
  description: string | null;
  status: string;
  statusMessage: string | null;
  componentName: string;
  componentVersion: string;
  configuration: string | null;
  createdAt: string;
  updatedAt: string;
}

const PACKAGING_FIELDS =
  'name modelVersionNumber description status statusMessage componentName componentVersion configuration createdAt updatedAt';

function packagingMetadata(project: string, job: PackagingNode): Record<string, unknown> {
  return {
    JobName: job.name,
    ProjectName: project,
    ModelVersion: String(job.modelVersionNumber),
    ...(job.description ? { ModelPackagingJobDescription: job.description } : {}),
    ModelPackagingMethod: 'Greengrass',
    Status: job.status,
    ...(job.statusMessage ? { StatusMessage: job.statusMessage } : {}),
    CreationTimestamp: epochSeconds(job.createdAt),
    LastUpdatedTimestamp: epochSeconds(job.updatedAt),
  };
}

/** The configuration the job was started with; a job whose stored copy does not parse simply shows none. */
function packagingConfiguration(job: PackagingNode): unknown {
  try {
    return job.configuration ? JSON.parse(job.configuration) : undefined;
  } catch {
    return undefined;
  }
}

/** StartModelPackagingJob, ListModelPackagingJobs, DescribeModelPackagingJob: the training service's edge packages. */
export const packagingOperations: readonly LookoutOperation[] = [
  {
    name: 'StartModelPackagingJob',
    method: 'POST',
    path: '/projects/:projectName/modelpackagingjobs',
    idempotent: true,
    async handle(call, deps) {
      const name = projectNameParam(call);
      const body = jsonBody(call, StartPackagingBody);
      const greengrass = body.Configuration.Greengrass;
      const data = await callGraphQL<{ startModelPackagingJob: PackagingNode }>(
        deps,
        call,
        `mutation LookoutStartPackaging($input: StartModelPackagingJobInput!) { startModelPackagingJob(input: $input) { ${PACKAGING_FIELDS} } }`,
        {
          input: {
            project: { name },
            version: Number(body.ModelVersion),
            ...(body.JobName ? { name: body.JobName } : {}),
            ...(body.Description ? { description: body.Description } : {}),
            outputBucket: greengrass.S3OutputLocation.Bucket,
            ...(greengrass.S3OutputLocation.Prefix ? { outputPrefix: greengrass.S3OutputLocation.Prefix } : {}),
            componentName: greengrass.ComponentName,
            ...(greengrass.ComponentVersion ? { componentVersion: greengrass.ComponentVersion } : {}),
            configuration: JSON.stringify(body.Configuration),
          },
        },
      );
      return { status: 200, body: { JobName: data.startModelPackagingJob.name } };
    },
  },
  {
    name: 'ListModelPackagingJobs',
    method: 'GET',
    path: '/projects/:projectName/modelpackagingjobs',
    idempotent: false,
    async handle(call, deps) {
      const name = projectNameParam(call);
      const first = pageSizeParam(call);
      const after = queryParam(call, 'nextToken');
      const data = await callGraphQL<{ modelPackagingJobs: Connection<PackagingNode> }>(
        deps,
        call,
        `query LookoutPackagingJobs($name: String!, $first: Int, $after: String) { modelPackagingJobs(project: { name: $name }, first: $first, after: $after) { nodes { ${PACKAGING_FIELDS} } pageInfo { hasNextPage endCursor } } }`,
        { name, first, ...(after ? { after } : {}) },
      );
      const page = data.modelPackagingJobs;
      return {
        status: 200,
        body: {
          ModelPackagingJobs: page.nodes.map((job) => packagingMetadata(name, job)),
          ...nextTokenOf(page),
        },
      };
    },
  },
  {
    name: 'DescribeModelPackagingJob',
    method: 'GET',
    path: '/projects/:projectName/modelpackagingjobs/:jobName',
    idempotent: false,
    async handle(call, deps) {
      const name = projectNameParam(call);
      const jobName = call.params['jobName'] ?? '';
      const data = await callGraphQL<{ modelPackagingJob: PackagingNode }>(
        deps,
        call,
        `query LookoutPackagingJob($name: String!, $job: String!) { modelPackagingJob(project: { name: $name }, name: $job) { ${PACKAGING_FIELDS} } }`,
        { name, job: jobName },
      );
      const job = data.modelPackagingJob;
      const configuration = packagingConfiguration(job);
      return {
        status: 200,
        body: {
          ModelPackagingDescription: {
            ...packagingMetadata(name, job),
            ...(configuration ? { ModelPackagingConfiguration: configuration } : {}),
            ModelPackagingOutputDetails: {
              Greengrass: { ComponentName: job.componentName, ComponentVersion: job.componentVersion },
            },
          },
        },
      };
    },
  },
];
