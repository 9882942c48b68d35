import { z } from 'zod';
import { DatasetType, EntryLabel, isRole } from '@vigil/contracts';

/** The dataset service's background work. Names are part of the queue contract: never rename. */
export const DatasetQueue = { Imports: 'dataset-imports' } as const;
export const DatasetJobKind = {
  ImportManifest: 'dataset.import-manifest',
  ImportFolder: 'dataset.import-folder',
} as const;

const ActorSchema = z.object({
  principal: z.object({ id: z.string(), name: z.string(), role: z.string().refine(isRole) }),
  requestId: z.string().optional(),
});

export const ImportManifestPayloadSchema = z.object({
  projectId: z.string(),
  datasetType: z.enum([DatasetType.Train, DatasetType.Test]),
  manifestUri: z.string().optional(),
  manifestText: z.string().optional(),
  baseUri: z.string().optional(),
  allowPartial: z.boolean(),
  actor: ActorSchema,
});
export type ImportManifestPayload = z.infer<typeof ImportManifestPayloadSchema>;

export const ImportFolderPayloadSchema = z.object({
  projectId: z.string(),
  source: z.string(),
  datasetType: z.enum([DatasetType.Train, DatasetType.Test]).optional(),
  label: z.enum([EntryLabel.Normal, EntryLabel.Anomaly, EntryLabel.Unlabelled]).optional(),
  labelFromFileName: z.boolean().optional(),
  actor: ActorSchema,
});
export type ImportFolderPayload = z.infer<typeof ImportFolderPayloadSchema>;

export interface ImportWarning {
  readonly line?: number;
  readonly item?: string;
  readonly message: string;
}

export interface ImportFailure {
  readonly line?: number;
  readonly item: string;
  readonly code: string;
  readonly message: string;
}

export interface DatasetImportCount {
  readonly type: DatasetType;
  normal: number;
  anomaly: number;
  unlabelled: number;
}

export interface DatasetImportSummary {
  readonly source: string;
  readonly layout: string | null;
  readonly entriesCreated: number;
  readonly entriesUpdated: number;
  readonly imagesStored: number;
  readonly imagesDeduplicated: number;
  readonly masks: number;
  readonly byDataset: DatasetImportCount[];
  readonly warnings: ImportWarning[];
  readonly failures: ImportFailure[];
}
