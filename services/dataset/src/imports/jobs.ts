import { z } from 'zod';
import { DatasetType, EntryLabel, errors, isUuid } from '@vigil/contracts';
import type { JobRow } from '@vigil/db';
import { toJobView, type AuditTrail, type JobView } from '@vigil/service-kit';
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

/** The slice of the job system this service uses (see @vigil/queue). */
export interface JobPort {
  submit(input: {
    queue: string;
    kind: string;
    payload: unknown;
    createdBy: string;
    idempotencyKey?: string;
  }): Promise<JobRow>;
  get(id: string): Promise<JobRow | undefined>;
  cancel(id: string): Promise<JobRow | undefined>;
}

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
  constructor(
    private readonly jobs: JobPort,
    private readonly projects: ProjectService,
    private readonly audit: AuditTrail,
  ) {}

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
    const row = await this.jobs.submit({
      queue: DatasetQueue.Imports,
      kind,
      payload: encoded,
      createdBy: actor.principal.name,
      ...(idempotencyKey ? { idempotencyKey: `${actor.principal.id}:${idempotencyKey}` } : {}),
    });
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

  async get(id: string): Promise<DatasetImportJobView> {
    const row = isUuid(id) ? await this.jobs.get(id) : undefined;
    if (!row || row.queue !== DatasetQueue.Imports) throw errors.notFound('dataset import job', id);
    return view(row);
  }

  async cancel(id: string, actor: Actor): Promise<DatasetImportJobView> {
    const before = await this.get(id);
    const row = await this.jobs.cancel(id);
    if (!row) throw errors.notFound('dataset import job', id);
    // Both sides of the audit row in the same (view) form, not one upper- and one lower-case.
    const after = view(row);
    await this.audit.record({
      actor: actor.principal,
      requestId: actor.requestId,
      action: 'dataset.import.cancel',
      entityType: 'job',
      entityId: id,
      before: { status: before.status },
      after: { status: after.status },
    });
    return after;
  }
}
