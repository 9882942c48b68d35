import { z } from 'zod';

/** Where and when an image was captured; every field optional, all free text but bounded. */
export const CaptureMetadataSchema = z.object({
  line: z.string().trim().min(1).max(128).optional(),
  station: z.string().trim().min(1).max(128).optional(),
  camera: z.string().trim().min(1).max(128).optional(),
  lot: z.string().trim().min(1).max(128).optional(),
  capturedAt: z.coerce.date().optional(),
  tags: z.array(z.string().trim().min(1).max(64)).max(32).optional(),
});
export type CaptureMetadata = z.infer<typeof CaptureMetadataSchema>;

export const EntryLabel = { Normal: 'normal', Anomaly: 'anomaly', Unlabelled: 'unlabelled' } as const;
export type EntryLabel = (typeof EntryLabel)[keyof typeof EntryLabel];

export const DatasetType = { Train: 'train', Test: 'test' } as const;
export type DatasetType = (typeof DatasetType)[keyof typeof DatasetType];

/** A named defect class of a segmentation mask, painted in `color` (#RRGGBB). */
export const DefectClassSchema = z.object({
  name: z.string().trim().min(1).max(64),
  color: z.string().regex(/^#[0-9A-Fa-f]{6}$/, 'a colour is #RRGGBB'),
});
export type DefectClass = z.infer<typeof DefectClassSchema>;
