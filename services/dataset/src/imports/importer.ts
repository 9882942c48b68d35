import path from 'node:path';
import {
  DatasetType,
  EntryLabel,
  errors,
  describeError,
  isVigilError,
  ErrorCode,
  VigilError,
  type DefectClass,
} from '@vigil/contracts';
import { contentKey, describeLocation, parseSourceUri, type SourceLocation } from '@vigil/storage';
import {
  parseManifest,
  resolveManifestRefs,
  type ManifestWarning,
  type SourceLocation as ManifestLocation,
} from '../manifest';
import { detectLayout } from '../layouts';
import type { NewEntry } from '../repositories/entries';
import type { DatasetService } from '../domain/datasets';
import type { ProjectService } from '../domain/projects';
import type { ImageIntake, ImportProgress, MaskIntake, Sources } from './ports';
import type {
  DatasetImportCount,
  DatasetImportSummary,
  ImportFailure,
  ImportFolderPayload,
  ImportManifestPayload,
  ImportWarning,
} from './payloads';

export interface ImporterLimits {
  /** Largest image or mask file read, in bytes. */
  readonly maxImageBytes: number;
  /** Largest manifest read, in bytes. */
  readonly maxManifestBytes: number;
  /** Whether manifests may name server-side files (file:// or absolute paths). */
  readonly allowLocalFiles: boolean;
}

const MAX_REPORTED = 200;

interface PendingEntry {
  readonly datasetType: DatasetType;
  readonly entry: NewEntry;
}

class Tally {
  imagesStored = 0;
  imagesDeduplicated = 0;
  masks = 0;
  readonly warnings: ImportWarning[] = [];
  readonly failures: ImportFailure[] = [];
  failureCount = 0;

  warn(warning: ImportWarning): void {
    if (this.warnings.length < MAX_REPORTED) this.warnings.push(warning);
  }

  fail(item: string, error: unknown, line?: number): void {
    this.failureCount += 1;
    const { code, message } = describeError(error);
    if (this.failures.length < MAX_REPORTED)
      this.failures.push({
        item,
        code,
        message: isVigilError(error) ? message : 'internal error',
        ...(line ? { line } : {}),
      });
  }
}

function manifestWarning(w: ManifestWarning): ImportWarning {
  return { line: w.line, message: w.message };
}

/** Turns a manifest's own location kind into a place our SourceReader can read. */
function toSourceLocation(location: ManifestLocation, base: SourceLocation | null): SourceLocation {
  switch (location.kind) {
    case 's3':
      return location;
    case 'file':
      return { kind: 'file', path: location.path };
    case 'object':
      return { kind: 'object', key: contentKey(location.key.toLowerCase()) };
    case 'relative': {
      if (base?.kind === 'file') return { kind: 'file', path: path.join(path.dirname(base.path), location.path) };
      throw errors.invalidManifest(
        `relative source-ref '${location.path}' needs a manifest location or baseUri to resolve against`,
      );
    }
  }
}

/**
 * Imports labelled images into a project's datasets: from a Ground Truth manifest (all-or-nothing unless
 * allowPartial) or from a folder / S3 prefix in the Lookout, MVTec AD or plain layout (keeps the good items
 * and reports each failure). Entries are written in one transaction at the end, so a failed import leaves
 * the datasets as they were; images already validated stay in the content-addressed catalogue.
 */
export class DatasetImporter {
  constructor(
    private readonly projects: ProjectService,
    private readonly datasets: DatasetService,
    private readonly images: ImageIntake,
    private readonly masks: MaskIntake,
    private readonly sources: Sources,
    private readonly limits: ImporterLimits,
  ) {}

  async importManifest(payload: ImportManifestPayload, progress: ImportProgress): Promise<DatasetImportSummary> {
    await this.projects.get(payload.projectId);
    const { text, manifestLocation, base } = await this.loadManifest(payload);
    const parsed = parseManifest(text);
    const resolved = resolveManifestRefs(parsed.entries, manifestLocation, {
      allowLocalFiles: this.limits.allowLocalFiles,
    });
    const tally = new Tally();
    parsed.warnings.forEach((w) => tally.warn(manifestWarning(w)));

    const pending: PendingEntry[] = [];
    const total = resolved.length;
    progress.progress(0, total, 'importing images');
    for (const [index, entry] of resolved.entries()) {
      if (progress.signal.aborted) throw new VigilError(ErrorCode.Conflict, 'the import was cancelled');
      try {
        const imageBytes = await this.sources.read(toSourceLocation(entry.source, base), this.limits.maxImageBytes);
        const image = await this.images.ingest({
          bytes: imageBytes,
          originalName: path.posix.basename(entry.sourceRef),
          actor: payload.actor.principal,
        });
        if (image.deduplicated) tally.imagesDeduplicated += 1;
        else tally.imagesStored += 1;
        let maskKey: string | null = null;
        let classes: readonly DefectClass[] = [];
        if (entry.maskSource && entry.mask) {
          const maskBytes = await this.sources.read(
            toSourceLocation(entry.maskSource, base),
            this.limits.maxImageBytes,
          );
          maskKey = (await this.masks.store(maskBytes)).objectKey;
          classes = entry.mask.classes;
          tally.masks += 1;
        }
        pending.push({
          datasetType: payload.datasetType,
          entry: {
            imageId: image.imageId,
            label: entry.label,
            maskKey,
            maskClasses: classes,
            sourceRef: entry.sourceRef,
          },
        });
      } catch (error) {
        tally.fail(entry.sourceRef, error, entry.line);
      }
      progress.progress(index + 1, total, 'importing images');
    }

    if (tally.failureCount > 0 && !payload.allowPartial) {
      throw new VigilError(
        ErrorCode.InvalidManifest,
        `${tally.failureCount} of ${total} manifest lines could not be imported; nothing was added (set allowPartial to keep the good lines). First: line ${tally.failures[0]?.line ?? '?'}: ${tally.failures[0]?.message ?? ''}`,
        { failures: tally.failures, failureCount: tally.failureCount },
      );
    }
    return this.commit(payload.projectId, pending, tally, payload.actor, describeSource(payload), null, progress);
  }

  async importFolder(payload: ImportFolderPayload, progress: ImportProgress): Promise<DatasetImportSummary> {
    await this.projects.get(payload.projectId);
    const root = parseSourceUri(payload.source);
    if (root.kind === 'file' && !this.limits.allowLocalFiles) {
      throw errors.forbidden('this server does not import from local folders; use an s3:// prefix');
    }
    progress.progress(0, undefined, 'listing files');
    const items = new Map<string, SourceLocation>();
    for await (const item of this.sources.list(root)) {
      if (progress.signal.aborted) throw new VigilError(ErrorCode.Conflict, 'the import was cancelled');
      items.set(item.relativePath, item.location);
    }
    const layout = detectLayout([...items.keys()]);
    const tally = new Tally();
    for (const ignored of layout.ignored) tally.warn({ item: ignored.path, message: `ignored: ${ignored.reason}` });
    if (layout.entries.length === 0)
      throw errors.badInput(`no images found in ${payload.source}`, { source: payload.source });

    const pending: PendingEntry[] = [];
    const total = layout.entries.length;
    progress.progress(0, total, 'importing images');
    for (const [index, found] of layout.entries.entries()) {
      if (progress.signal.aborted) throw new VigilError(ErrorCode.Conflict, 'the import was cancelled');
      const location = items.get(found.path);
      try {
        if (!location) throw errors.internal(`listed file ${found.path} vanished`);
        const bytes = await this.sources.read(location, this.limits.maxImageBytes);
        const image = await this.images.ingest({
          bytes,
          originalName: path.posix.basename(found.path),
          actor: payload.actor.principal,
        });
        if (image.deduplicated) tally.imagesDeduplicated += 1;
        else tally.imagesStored += 1;
        let maskKey: string | null = null;
        let classes: DefectClass[] = [];
        const maskLocation = found.maskPath ? items.get(found.maskPath) : undefined;
        if (maskLocation) {
          maskKey = (await this.masks.store(await this.sources.read(maskLocation, this.limits.maxImageBytes)))
            .objectKey;
          // MVTec masks are white on black; the defect type names the class.
          classes = [{ name: found.defectType ?? 'defect', color: '#FFFFFF' }];
          tally.masks += 1;
        }
        const datasetType = found.datasetType ?? payload.datasetType ?? DatasetType.Train;
        const label =
          layout.layout !== 'plain'
            ? found.label
            : ((payload.labelFromFileName ? labelFromFileName(found.path) : null) ??
              payload.label ??
              EntryLabel.Unlabelled);
        pending.push({
          datasetType,
          entry: {
            imageId: image.imageId,
            label,
            maskKey,
            maskClasses: classes,
            sourceRef: describeLocation(location),
          },
        });
      } catch (error) {
        tally.fail(found.path, error);
      }
      progress.progress(index + 1, total, 'importing images');
    }
    if (pending.length === 0) {
      throw errors.badInput(
        `none of the ${total} images in ${payload.source} could be imported; first: ${tally.failures[0]?.item}: ${tally.failures[0]?.message}`,
        { failures: tally.failures },
      );
    }
    return this.commit(payload.projectId, pending, tally, payload.actor, payload.source, layout.layout, progress);
  }

  private async loadManifest(
    payload: ImportManifestPayload,
  ): Promise<{ text: string; manifestLocation: string; base: SourceLocation | null }> {
    if (payload.manifestText !== undefined) {
      if (Buffer.byteLength(payload.manifestText) > this.limits.maxManifestBytes) {
        throw new VigilError(
          ErrorCode.PayloadTooLarge,
          `the manifest is larger than ${this.limits.maxManifestBytes} bytes`,
        );
      }
      const baseUri = payload.baseUri ?? null;
      const base = baseUri
        ? parseSourceUri(baseUri.endsWith('/') ? `${baseUri}manifest` : `${baseUri}/manifest`)
        : null;
      return { text: payload.manifestText, manifestLocation: base ? locationUri(base) : 'inline.manifest', base };
    }
    if (!payload.manifestUri) throw errors.badInput('give manifestUri or manifestText');
    const location = parseSourceUri(payload.manifestUri);
    if (location.kind === 'file' && !this.limits.allowLocalFiles) {
      throw errors.forbidden('this server does not read local manifest files; use an s3:// URI or manifestText');
    }
    const bytes = await this.sources.read(location, this.limits.maxManifestBytes);
    return { text: bytes.toString('utf8'), manifestLocation: locationUri(location), base: location };
  }

  private async commit(
    projectId: string,
    pending: readonly PendingEntry[],
    tally: Tally,
    actor: ImportManifestPayload['actor'],
    source: string,
    layout: string | null,
    progress: ImportProgress,
  ): Promise<DatasetImportSummary> {
    progress.progress(pending.length, pending.length, 'saving entries');
    const byType = new Map<DatasetType, NewEntry[]>();
    for (const p of pending) {
      const list = byType.get(p.datasetType) ?? [];
      list.push(p.entry);
      byType.set(p.datasetType, list);
    }
    let created = 0;
    let updated = 0;
    const counts: DatasetImportCount[] = [];
    for (const [type, entries] of [...byType.entries()].sort(([a], [b]) => (a < b ? 1 : -1))) {
      const dataset = await this.datasets.ensure(projectId, type, actor);
      const result = await this.datasets.addEntries(dataset.id, entries, actor, { unbounded: true });
      created += result.created;
      updated += result.updated;
      const count: DatasetImportCount = { type, normal: 0, anomaly: 0, unlabelled: 0 };
      // Counted from the rows written: two refs with identical bytes are one image, so one entry.
      for (const e of result.entries) count[e.label] += 1;
      counts.push(count);
    }
    return {
      source,
      layout,
      entriesCreated: created,
      entriesUpdated: updated,
      imagesStored: tally.imagesStored,
      imagesDeduplicated: tally.imagesDeduplicated,
      masks: tally.masks,
      byDataset: counts,
      warnings: tally.warnings,
      failures: tally.failures,
    };
  }
}

function locationUri(location: SourceLocation): string {
  return location.kind === 'file' ? `file://${location.path}` : describeLocation(location);
}

function describeSource(payload: ImportManifestPayload): string {
  return payload.manifestUri ?? 'inline manifest';
}

const NORMAL_NAME = /(^|[^a-z])(normal|good|ok)([^a-z]|$)/i;
const ANOMALY_NAME = /(^|[^a-z])(anomaly|anomalous|defect|defective|bad|ng)([^a-z]|$)/i;

/** The label a file name states, as in `test-anomaly-3.jpg`; null when it states none or both. */
export function labelFromFileName(filePath: string): EntryLabel | null {
  const stem = path.posix.basename(filePath).replace(/\.[^.]+$/, '');
  const normal = NORMAL_NAME.test(stem);
  const anomaly = ANOMALY_NAME.test(stem);
  if (normal === anomaly) return null;
  return normal ? EntryLabel.Normal : EntryLabel.Anomaly;
}
