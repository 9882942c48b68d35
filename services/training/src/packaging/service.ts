import { createHash } from 'node:crypto';
import { z } from 'zod';
import { describeError, errors, isUuid, type Principal } from '@vigil/contracts';
import type { ModelPackagingJobRow, PackagedFile } from '@vigil/db';
import { decodeCursor, pageSize, toPage, type AuditTrail, type Page } from '@vigil/service-kit';
import type { ObjectStore } from '@vigil/storage';
import type { JobPort } from '../domain/models';
import type { ModelVersionRepository } from '../repositories/model-versions';
import type { TrainingDataSource } from '../repositories/training-data';
import { TrainingQueue } from '../jobs/payloads';
import { buildEdgePackage, type ExportedOnnx } from './edge-package';
import type { PackagingJobRepository, PackagingStatus } from './repository';

export const PackagingJobKind = 'training.package-model';
export const PackageModelPayloadSchema = z.object({ packagingJobId: z.string() });

/** Writes package files to the customer's bucket (S3 in both modes). */
export interface PackageWriter {
  write(location: { bucket: string; key: string }, bytes: Buffer, contentType: string): Promise<void>;
}

/** The engine's standalone export (a port, so specs run without onnxruntime). */
export type OnnxExporter = () => Promise<{
  exportOnnx(artifact: Uint8Array, options: { imageWidth?: number; imageHeight?: number }): ExportedOnnx;
}>;

export interface PackagingJob {
  readonly id: string;
  readonly name: string;
  readonly projectId: string;
  readonly modelVersionId: string;
  readonly modelVersionNumber: number;
  readonly description: string | null;
  readonly status: PackagingStatus;
  readonly statusMessage: string | null;
  readonly outputBucket: string;
  readonly outputPrefix: string;
  readonly componentName: string;
  readonly componentVersion: string;
  readonly configuration: string | null;
  readonly files: readonly PackagedFile[];
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$/;
const StartInputSchema = z.object({
  project: z.object({ id: z.string().nullish(), name: z.string().nullish() }),
  version: z.number().int().min(1),
  name: z.string().regex(NAME, 'a job name is 1 to 64 letters, digits, hyphens or underscores').nullish(),
  description: z.string().max(256).nullish(),
  outputBucket: z.string().min(3).max(63),
  outputPrefix: z.string().max(1024).nullish(),
  componentName: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,128}$/, 'a component name is 1 to 128 letters, digits, ., - or _')
    .nullish(),
  componentVersion: z
    .string()
    .regex(/^[0-9]+\.[0-9]+\.[0-9]+$/, 'a component version is MAJOR.MINOR.PATCH')
    .nullish(),
  configuration: z.string().max(100_000).nullish(),
});

const ARTIFACT_STATUSES = new Set(['TRAINED', 'STARTING_HOSTING', 'HOSTED', 'HOSTING_FAILED', 'STOPPING_HOSTING']);

function toJob(row: ModelPackagingJobRow): PackagingJob {
  return {
    id: row.id,
    name: row.name,
    projectId: row.project_id,
    modelVersionId: row.model_version_id,
    modelVersionNumber: row.model_version,
    description: row.description,
    status: row.status as PackagingStatus,
    statusMessage: row.status_message,
    outputBucket: row.output_bucket,
    outputPrefix: row.output_prefix,
    componentName: row.component_name,
    componentVersion: row.component_version,
    configuration: row.configuration === null ? null : JSON.stringify(row.configuration),
    files: row.files,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function contentType(name: string): string {
  if (name.endsWith('.json')) return 'application/json';
  if (name.endsWith('.js')) return 'text/javascript';
  return 'application/octet-stream';
}

/**
 * Model packaging jobs: an edge package of a trained version (the engine's standalone ONNX export, its
 * preprocessing as JSON, a small Node runner and a manifest with digests), written to an S3 location in the
 * background. Lookout's StartModelPackagingJob; the package runs on any device with onnxruntime and sharp.
 */
export class PackagingService {
  constructor(
    private readonly jobs: PackagingJobRepository,
    private readonly versions: ModelVersionRepository,
    private readonly data: TrainingDataSource,
    private readonly queue: JobPort,
    private readonly store: Pick<ObjectStore, 'getBuffer'>,
    private readonly audit: AuditTrail,
    private readonly exporter: OnnxExporter,
    private readonly writer: PackageWriter | null,
  ) {}

  async start(input: unknown, actor: { principal: Principal; requestId?: string }): Promise<PackagingJob> {
    const parsed = StartInputSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw errors.badInput(`${issue?.path.join('.') ?? 'input'}: ${issue?.message ?? 'invalid'}`);
    }
    const spec = parsed.data;
    const project = await this.data.findProject(spec.project);
    if (!project) throw errors.notFound('project', spec.project.id ?? spec.project.name ?? '');
    const version = await this.versions.findByVersion(project.id, spec.version);
    if (!version) throw errors.notFound('model', `${project.name}/${spec.version}`);
    if (!ARTIFACT_STATUSES.has(version.status) || !version.artifact_key) {
      throw errors.conflict(
        `model version ${version.version} is ${version.status}: only a trained version can be packaged`,
      );
    }
    if (!this.writer) throw errors.badInput('no S3 client is configured for package output on this server');
    let configuration: unknown;
    if (spec.configuration) {
      try {
        configuration = JSON.parse(spec.configuration);
      } catch {
        throw errors.badInput('configuration must be JSON text');
      }
    }
    const name = spec.name ?? `${project.name}-${version.version}-${Date.now()}`.slice(0, 64);
    const prefix = spec.outputPrefix ? spec.outputPrefix.replace(/\/*$/, '/') : '';
    const row = await this.jobs.insert({
      projectId: project.id,
      modelVersionId: version.id,
      modelVersion: version.version,
      name,
      description: spec.description ?? null,
      outputBucket: spec.outputBucket,
      outputPrefix: prefix,
      componentName: spec.componentName ?? `${project.name}-model`,
      componentVersion: spec.componentVersion ?? `1.0.${version.version}`,
      configuration,
      createdBy: actor.principal.name,
    });
    if (!row) throw errors.conflict(`project '${project.name}' already has a packaging job named '${name}'`);
    await this.audit.record({
      actor: actor.principal,
      action: 'modelPackagingJob.start',
      entityType: 'modelPackagingJob',
      entityId: row.id,
      after: { name, projectId: project.id, modelVersion: version.version, bucket: spec.outputBucket, prefix },
      ...(actor.requestId ? { requestId: actor.requestId } : {}),
    });
    try {
      const queued = await this.queue.submit({
        queue: TrainingQueue.Training,
        kind: PackagingJobKind,
        payload: { packagingJobId: row.id },
        createdBy: actor.principal.name,
        idempotencyKey: `package:${row.id}`,
      });
      // Only the queue job's id: the worker may already have moved the status on.
      return toJob((await this.jobs.update(row.id, { jobId: queued.id })) ?? row);
    } catch (error) {
      await this.jobs.update(row.id, { status: 'FAILED', statusMessage: 'could not be queued' });
      throw error;
    }
  }

  async byName(ref: { id?: string | null; name?: string | null }, name: string): Promise<PackagingJob> {
    const project = await this.data.findProject(ref);
    if (!project) throw errors.notFound('project', ref.id ?? ref.name ?? '');
    const row = await this.jobs.findByName(project.id, name);
    if (!row) throw errors.notFound('model packaging job', name);
    return toJob(row);
  }

  async list(
    ref: { id?: string | null; name?: string | null },
    args: { first?: number | null; after?: string | null },
  ): Promise<Page<PackagingJob>> {
    const project = await this.data.findProject(ref);
    if (!project) throw errors.notFound('project', ref.id ?? ref.name ?? '');
    const limit = pageSize(args.first);
    const rows = await this.jobs.list(project.id, decodeCursor(args.after), limit);
    return toPage(rows, limit, toJob);
  }

  /** The worker: export, build, write; a failure is the job's status (FAILED with the reason), not a retry. */
  async run(payload: unknown): Promise<void> {
    const { packagingJobId } = PackageModelPayloadSchema.parse(payload);
    const row = isUuid(packagingJobId) ? await this.jobs.findById(packagingJobId) : undefined;
    if (!row || row.status === 'SUCCEEDED' || row.status === 'FAILED') return;
    await this.jobs.update(row.id, { status: 'RUNNING', statusMessage: 'exporting the model' });
    try {
      if (!this.writer) throw errors.badInput('no S3 client is configured for package output');
      const version = await this.versions.findById(row.model_version_id);
      if (!version?.artifact_key || !version.artifact_sha256) {
        throw errors.conflict(`model version ${row.model_version} has no artifact (deleted?)`);
      }
      const project = await this.data.findProject({ id: row.project_id });
      const artifact = await this.store.getBuffer(version.artifact_key);
      const engine = await this.exporter();
      const exported = engine.exportOnnx(artifact, {
        ...(version.image_width && version.image_height
          ? { imageWidth: version.image_width, imageHeight: version.image_height }
          : {}),
      });
      const files = buildEdgePackage(exported, {
        project: project?.name ?? row.project_id,
        modelVersion: row.model_version,
        artifactSha256: version.artifact_sha256,
        componentName: row.component_name,
        componentVersion: row.component_version,
      });
      const base = `${row.output_prefix}${row.component_name}/${row.component_version}/`;
      const written: PackagedFile[] = [];
      for (const file of files) {
        const key = `${base}${file.name}`;
        await this.writer.write({ bucket: row.output_bucket, key }, file.bytes, contentType(file.name));
        written.push({ key, sha256: createHash('sha256').update(file.bytes).digest('hex'), bytes: file.bytes.length });
      }
      await this.jobs.update(row.id, {
        status: 'SUCCEEDED',
        statusMessage: `wrote ${written.length} files to s3://${row.output_bucket}/${base}`,
        files: written,
      });
    } catch (error) {
      await this.jobs.update(row.id, { status: 'FAILED', statusMessage: describeError(error).message });
    }
  }
}
