import { DefectClassSchema, errors } from '@vigil/contracts';
import { z } from 'zod';
import { isBackground } from './parse';
import {
  DEFAULT_LABEL_ATTRIBUTE,
  DEFAULT_MASK_ATTRIBUTE,
  GROUND_TRUTH_CLASSIFICATION,
  GROUND_TRUTH_SEGMENTATION,
  type ManifestEntry,
} from './types';

/** What a manifest line is made from; `line` and `raw` of a parsed entry are ignored. */
export type SerializableEntry = Pick<ManifestEntry, 'sourceRef' | 'label' | 'mask'>;

export interface SerializeManifestOptions {
  readonly labelAttribute?: string;
  readonly maskAttribute?: string;
  /** Written as `labeling-job/<jobName>` in both metadata objects, as Ground Truth does. */
  readonly jobName: string;
  /** Written as `creation-date`; pass it in so the output is deterministic. */
  readonly creationDate: Date | string;
  /**
   * Colour of a BACKGROUND entry to write as class "0" of every colour map (Lookout's documentation example
   * writes `#ffffff`). Null (the default) writes defect classes only, from "0", like the cookies manifest.
   */
  readonly backgroundColor?: string | null;
}

const AttributeSchema = z
  .string()
  .min(1)
  .max(128)
  .refine((name) => name !== 'source-ref' && !name.endsWith('-metadata'), 'must not be source-ref or end in -metadata');

const OptionsSchema = z
  .object({
    labelAttribute: AttributeSchema,
    maskAttribute: AttributeSchema,
    jobName: z.string().trim().min(1).max(256),
    creationDate: z.union([z.date().refine((d) => !Number.isNaN(d.getTime()), 'invalid date'), z.string().min(1)]),
    backgroundColor: DefectClassSchema.shape.color.nullable(),
  })
  .refine((o) => o.labelAttribute !== o.maskAttribute, 'labelAttribute and maskAttribute must differ');

const EntrySchema = z
  .object({
    sourceRef: z.string().refine((ref) => ref.trim() !== '', 'must not be empty'),
    label: z.enum(['normal', 'anomaly']),
    mask: z
      .object({
        ref: z.string().refine((ref) => ref.trim() !== '', 'must not be empty'),
        classes: z.array(DefectClassSchema.refine((c) => !isBackground(c.name), 'BACKGROUND is reserved')),
      })
      .optional(),
  })
  .refine(
    (e) => e.label !== 'anomaly' || !e.mask || e.mask.classes.length > 0,
    // parseManifest refuses such a line, so refuse to write it.
    { message: 'the mask of an anomaly needs at least one defect class', path: ['mask', 'classes'] },
  );

/**
 * Writes Lookout for Vision style JSON lines: label 1 = anomaly, class-name normal/anomaly, and for entries
 * with a mask a groundtruth/semantic-segmentation attribute whose internal-color-map lists the defect classes.
 * `parseManifest(serializeManifest(x))` gives back x's sourceRef, label and mask.
 */
export function serializeManifest(entries: readonly SerializableEntry[], options: SerializeManifestOptions): string {
  const parsedOptions = OptionsSchema.safeParse({
    labelAttribute: options.labelAttribute ?? DEFAULT_LABEL_ATTRIBUTE,
    maskAttribute: options.maskAttribute ?? DEFAULT_MASK_ATTRIBUTE,
    jobName: options.jobName,
    creationDate: options.creationDate,
    backgroundColor: options.backgroundColor ?? null,
  });
  if (!parsedOptions.success) {
    throw errors.badInput(`Cannot write manifest: ${formatIssue(parsedOptions.error)}`);
  }
  const o = parsedOptions.data;
  const creationDate = o.creationDate instanceof Date ? o.creationDate.toISOString() : o.creationDate;
  const jobName = `labeling-job/${o.jobName}`;

  return entries
    .map((input, index) => {
      const checked = EntrySchema.safeParse(input);
      if (!checked.success) {
        throw errors.badInput(`Cannot write manifest entry ${index}: ${formatIssue(checked.error)}`, { index });
      }
      const entry = checked.data;
      const line: Record<string, unknown> = {
        'source-ref': entry.sourceRef,
        [o.labelAttribute]: entry.label === 'anomaly' ? 1 : 0,
        [`${o.labelAttribute}-metadata`]: {
          confidence: 1,
          'job-name': jobName,
          'class-name': entry.label,
          'human-annotated': 'yes',
          'creation-date': creationDate,
          type: GROUND_TRUTH_CLASSIFICATION,
        },
      };
      if (entry.mask) {
        const colorMap: Record<string, { 'class-name': string; 'hex-color': string }> = {};
        const offset = o.backgroundColor === null ? 0 : 1;
        if (o.backgroundColor !== null) colorMap['0'] = { 'class-name': 'BACKGROUND', 'hex-color': o.backgroundColor };
        entry.mask.classes.forEach((c, i) => {
          colorMap[String(i + offset)] = { 'class-name': c.name, 'hex-color': c.color };
        });
        line[o.maskAttribute] = entry.mask.ref;
        line[`${o.maskAttribute}-metadata`] = {
          'internal-color-map': colorMap,
          'job-name': jobName,
          'human-annotated': 'yes',
          'creation-date': creationDate,
          type: GROUND_TRUTH_SEGMENTATION,
        };
      }
      return `${JSON.stringify(line)}\n`;
    })
    .join('');
}

function formatIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  return issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message;
}
