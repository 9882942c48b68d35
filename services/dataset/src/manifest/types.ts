import { type DefectClass, type EntryLabel } from '@vigil/contracts';

/** A manifest line always says normal or anomaly; 'unlabelled' exists only for folder imports. */
export type ManifestLabel = Exclude<EntryLabel, 'unlabelled'>;

export interface ManifestMask {
  /** The mask reference exactly as written in the manifest (resolve it with `resolveSourceRef`). */
  readonly ref: string;
  /** Defect classes of the mask in colour-map order; the BACKGROUND entry is never included. */
  readonly classes: readonly DefectClass[];
}

export interface ManifestEntry {
  /** 1-based physical line number in the manifest text, blank lines included, so it matches an editor. */
  readonly line: number;
  /** The `source-ref` exactly as written (resolve it with `resolveSourceRef`). */
  readonly sourceRef: string;
  readonly label: ManifestLabel;
  readonly mask?: ManifestMask;
  /** The parsed JSON object of the line, kept so callers can read attributes we do not model. */
  readonly raw: Readonly<Record<string, unknown>>;
}

export const ManifestProblem = {
  InvalidJson: 'invalid-json',
  NotAnObject: 'not-an-object',
  LineTooLong: 'line-too-long',
  TooManyLines: 'too-many-lines',
  EmptyManifest: 'empty-manifest',
  MissingSourceRef: 'missing-source-ref',
  MissingLabel: 'missing-label',
  AmbiguousLabel: 'ambiguous-label',
  InvalidLabel: 'invalid-label',
  UnknownLabelValue: 'unknown-label-value',
  InvalidMask: 'invalid-mask',
  AmbiguousMask: 'ambiguous-mask',
  InvalidSourceRef: 'invalid-source-ref',
} as const;
export type ManifestProblem = (typeof ManifestProblem)[keyof typeof ManifestProblem];

/** One problem that makes a manifest unusable; `line` is null for whole-file problems (empty manifest). */
export interface ManifestLineError {
  readonly line: number | null;
  readonly problem: ManifestProblem;
  readonly message: string;
}

interface WarningBase {
  readonly line: number;
  readonly message: string;
}

export type ManifestWarning =
  | (WarningBase & {
      /** The numeric label and the metadata `class-name` disagree; the class-name won. */
      readonly code: 'label-conflict';
      readonly attribute: string;
      readonly value: 0 | 1;
      /** What the number means by Lookout's convention (1 = anomaly). */
      readonly valueMeans: ManifestLabel;
      readonly className: string;
      /** The label that was kept (always what the class-name says). */
      readonly label: ManifestLabel;
    })
  | (WarningBase & {
      /** The class-name is neither normal/good nor anomaly, so the number decided. */
      readonly code: 'unrecognised-class-name';
      readonly attribute: string;
      readonly className: string;
    })
  | (WarningBase & {
      /** An earlier line with the same source-ref was dropped; this (later) line wins. */
      readonly code: 'duplicate-source-ref';
      readonly sourceRef: string;
      readonly droppedLine: number;
    })
  | (WarningBase & {
      readonly code: 'mask-on-normal';
    })
  | (WarningBase & {
      /** The same defect class is painted in a different colour than on an earlier line. */
      readonly code: 'inconsistent-class-color';
      readonly className: string;
      readonly color: string;
      readonly firstColor: string;
      readonly firstLine: number;
    });

export type ManifestWarningCode = ManifestWarning['code'];

export interface ParseManifestOptions {
  /** Most non-blank lines accepted; one more is a fatal error. */
  readonly maxLines?: number;
  /** Most UTF-8 bytes in one line (without its line break). */
  readonly maxLineBytes?: number;
  /** Most line errors kept in `details.errors`; the total is still counted. */
  readonly maxErrors?: number;
  /** Use this attribute as the label instead of discovering it from the `-metadata` siblings. */
  readonly labelAttribute?: string;
  /** Use this attribute as the mask instead of discovering it from the `-metadata` siblings. */
  readonly maskAttribute?: string;
}

export interface ParsedManifest {
  readonly entries: ManifestEntry[];
  readonly warnings: ManifestWarning[];
}

export const MANIFEST_DEFAULTS = {
  maxLines: 100_000,
  maxLineBytes: 64 * 1024,
  maxErrors: 50,
} as const;

export const GROUND_TRUTH_CLASSIFICATION = 'groundtruth/image-classification';
export const GROUND_TRUTH_SEGMENTATION = 'groundtruth/semantic-segmentation';
export const DEFAULT_LABEL_ATTRIBUTE = 'anomaly-label';
export const DEFAULT_MASK_ATTRIBUTE = 'anomaly-mask-ref';
