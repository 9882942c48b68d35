import path from 'node:path';
import { serializeManifest, type SerializableEntry } from '../manifest';
import type { DatasetEntry, DatasetService } from './datasets';

export interface ManifestExport {
  readonly manifest: string;
  readonly lines: number;
  /** Unlabelled entries cannot be written (a manifest line needs a label). */
  readonly skippedUnlabelled: number;
}

/** Object keys end in the content's sha256; `vigil://objects/<sha>` names it for a later import. */
function objectRef(objectKeyOrSha: string): string {
  return `vigil://objects/${path.posix.basename(objectKeyOrSha)}`;
}

export function toSerializable(entry: DatasetEntry): SerializableEntry | null {
  if (entry.label === 'unlabelled') return null;
  return {
    sourceRef: objectRef(entry.imageId),
    label: entry.label,
    ...(entry.mask && entry.mask.classes.length > 0
      ? { mask: { ref: objectRef(entry.mask.objectKey), classes: entry.mask.classes } }
      : {}),
  };
}

export class ManifestExporter {
  constructor(
    private readonly datasets: DatasetService,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async export(datasetId: string): Promise<ManifestExport> {
    const dataset = await this.datasets.get(datasetId);
    const entries = await this.datasets.allEntries(dataset.id);
    const lines = entries.map(toSerializable).filter((e): e is SerializableEntry => e !== null);
    const manifest =
      lines.length === 0
        ? ''
        : serializeManifest(lines, { jobName: `vigil-export-${dataset.type}`, creationDate: this.now() });
    return { manifest, lines: lines.length, skippedUnlabelled: entries.length - lines.length };
  }
}
