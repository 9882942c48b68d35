import { z } from 'zod';
import { CaptureMetadataSchema, isRole } from '@vigil/contracts';

/** The ingestion service's background work. Names are part of the queue contract: never rename. */
export const IngestionQueue = { Imports: 'ingestion-imports' } as const;
export const IngestionJobKind = { ImportImages: 'ingestion.import-images' } as const;

export const ImportImagesPayloadSchema = z.object({
  source: z.string(),
  metadata: CaptureMetadataSchema.optional(),
  actor: z.object({
    principal: z.object({ id: z.string(), name: z.string(), role: z.string().refine(isRole) }),
    requestId: z.string().optional(),
  }),
});
export type ImportImagesPayload = z.infer<typeof ImportImagesPayloadSchema>;

export interface ImageImportFailure {
  readonly item: string;
  readonly code: string;
  readonly message: string;
}

export interface ImageImportSummary {
  readonly imported: number;
  readonly deduplicated: number;
  readonly failed: number;
  readonly skipped: number;
  readonly failures: ImageImportFailure[];
}
