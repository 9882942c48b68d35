import { z } from 'zod';
import { DatasetType, EntryLabel, errors } from '@vigil/contracts';
import type { JobRow } from '@vigil/db';
import { QueuedJobs, toJobView, type AuditTrail, type JobPort, type JobView } from '@vigil/service-kit';
import type { jobsV1 } from '@vigil/proto';
import type { Actor, ProjectService } from '../domain/projects';
import {
  DatasetJobKind,
  DatasetQueue,
  encodeImportFolderPayload,
  encodeImportManifestPayload,
  type DatasetImportSummary,
  type ImportFolderPayload,
  type ImportManifestPayload,
} from './payloads';

export type { JobPort } from '@vigil/service-kit';

export type DatasetImportJobView = JobView<DatasetImportSummary> & { readonly source: string };

const ProjectRefSchema = z.object({ id: z.string().nullish(), name: z.string().nullish() });
const DatasetTypeSchema = z.enum([DatasetType.Train, DatasetType.Test]);

const ManifestInputSchema = z
  .object({
    project: ProjectRefSchema,
    datasetType: DatasetTypeSchema,
    manifestUri: z.string().trim().min(1).nullish(),
    manifestText: z.string().min(1).nullish(),
    baseUri: z.string().trim().min(1).nullish(),
    allowPartial: z.boolean().nullish(),
    idempotencyKey: z.string().min(1).max(200).nullish(),
  })
  .refine(
    (v) => Boolean(v.manifestUri) !== Boolean(v.manifestText),
    'give exactly one of manifestUri and manifestText',
  );

const FolderInputSchema = z.object({
  project: ProjectRefSchema,
  source: z.string().trim().min(1),
  datasetType: DatasetTypeSchema.nullish(),
  label: z.enum([EntryLabel.Normal, EntryLabel.Anomaly, EntryLabel.Unlabelled]).nullish(),
  labelFromFileName: z.boolean().nullish(),
  idempotencyKey: z.string().min(1).max(200).nullish(),
});

function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (!parsed.success)
    throw errors.badInput(parsed.error.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
  return parsed.data;
}

function view(row: JobRow): DatasetImportJobView {
  // Rows are read as stored, without decoding: a view must show even a job whose payload is malformed.
  const payload = row.payload as Partial<jobsV1.ImportManifestJobJson & jobsV1.ImportFolderJobJson> | null;
  return {
    ...toJobView<DatasetImportSummary>(row),
    source: payload?.source ?? payload?.manifestUri ?? 'inline manifest',
  };
}

/** Submits, reads and cancels the dataset service's import jobs. */
export class DatasetImportJobs {
  private readonly queued: QueuedJobs<DatasetImportJobView>;

  constructor(
    jobs: JobPort,
    private readonly projects: ProjectService,
    private readonly audit: AuditTrail,
  ) {
    this.queued = new QueuedJobs(jobs, audit, {
      queue: DatasetQueue.Imports,
      noun: 'dataset import job',
      cancelAction: 'dataset.import.cancel',
      view,
    });
  }

  async submitManifest(input: unknown, actor: Actor): Promise<DatasetImportJobView> {
    const parsed = parseInput(ManifestInputSchema, input);
    const project = await this.projects.resolve(parsed.project);
    const payload: ImportManifestPayload = {
      projectId: project.id,
      datasetType: parsed.datasetType,
      ...(parsed.manifestUri ? { manifestUri: parsed.manifestUri } : {}),
      ...(parsed.manifestText ? { manifestText: parsed.manifestText } : {}),
      ...(parsed.baseUri ? { baseUri: parsed.baseUri } : {}),
      allowPartial: parsed.allowPartial ?? false,
      actor: { principal: actor.principal, ...(actor.requestId ? { requestId: actor.requestId } : {}) },
    };
    const encoded = encodeImportManifestPayload(payload);
    return this.submit(
      DatasetJobKind.ImportManifest,
      payload,
      encoded,
      project.id,
      actor,
      parsed.idempotencyKey ?? undefined,
    );
  }

  async submitFolder(input: unknown, actor: Actor): Promise<DatasetImportJobView> {
    const parsed = parseInput(FolderInputSchema, input);
    const project = await this.projects.resolve(parsed.project);
    const payload: ImportFolderPayload = {
      projectId: project.id,
      source: parsed.source,
      ...(parsed.datasetType ? { datasetType: parsed.datasetType } : {}),
      ...(parsed.label ? { label: parsed.label } : {}),
      ...(parsed.labelFromFileName ? { labelFromFileName: true } : {}),
      actor: { principal: actor.principal, ...(actor.requestId ? { requestId: actor.requestId } : {}) },
    };
    const encoded = encodeImportFolderPayload(payload);
    return this.submit(
      DatasetJobKind.ImportFolder,
      payload,
      encoded,
      project.id,
      actor,
      parsed.idempotencyKey ?? undefined,
    );
  }

  private async submit(
    kind: string,
    payload: ImportManifestPayload | ImportFolderPayload,
    encoded: jobsV1.ImportManifestJobJson | jobsV1.ImportFolderJobJson,
    projectId: string,
    actor: Actor,
    idempotencyKey?: string,
  ): Promise<DatasetImportJobView> {
    const row = await this.queued.submit({ kind, payload: encoded, actor, idempotencyKey });
    const { manifestText: _omitted, ...recorded } = payload as ImportManifestPayload;
    await this.audit.record({
      actor: actor.principal,
      requestId: actor.requestId,
      action: kind,
      entityType: 'project',
      entityId: projectId,
      after: { jobId: row.id, ...recorded },
    });
    return view(row);
  }

  get(id: string): Promise<DatasetImportJobView> {
    return this.queued.get(id);
  }

  cancel(id: string, actor: Actor): Promise<DatasetImportJobView> {
    return this.queued.cancel(id, actor);
  }
}
