import path from 'node:path';
import { describeError, errors, ErrorCode, isVigilError, VigilError, type Principal } from '@vigil/contracts';
import { listSourceImages, type ImageCatalog } from '@vigil/images';
import { parseSourceUri, describeLocation, type SourceItem, type SourceLocation } from '@vigil/storage';
import type { ImageImportSummary, ImportImagesPayload } from './payloads';

/** Reads users' folders and S3 prefixes (see SourceReader in @vigil/storage). */
export interface Sources {
  list(root: SourceLocation): AsyncIterable<SourceItem>;
  read(location: SourceLocation, maxBytes: number): Promise<Buffer>;
}

export interface ImportProgress {
  readonly signal: AbortSignal;
  progress(done: number, total?: number, step?: string): void;
}

const MAX_REPORTED_FAILURES = 200;

/**
 * Bulk intake of every image below a folder or S3 prefix, with the same capture metadata for all. Each file
 * succeeds or fails on its own: failures are listed in the summary, the good images are kept.
 */
export class ImageImporter {
  constructor(
    private readonly catalog: Pick<ImageCatalog, 'ingest'>,
    private readonly sources: Sources,
    private readonly limits: { readonly maxImageBytes: number; readonly allowLocalFiles: boolean },
  ) {}

  async run(payload: ImportImagesPayload, progress: ImportProgress): Promise<ImageImportSummary> {
    const root = parseSourceUri(payload.source);
    if (root.kind === 'file' && !this.limits.allowLocalFiles) {
      throw errors.forbidden('this server does not import from local folders; use an s3:// prefix');
    }
    progress.progress(0, undefined, 'listing files');
    const { images: candidates, skipped } = await listSourceImages(this.sources, root, {
      signal: progress.signal,
      onAbort: () => new VigilError(ErrorCode.Conflict, 'the import was cancelled'),
    });
    if (candidates.length === 0)
      throw errors.badInput(`no images found in ${payload.source}`, { source: payload.source, skipped });

    const actor: Principal = payload.actor.principal;
    let imported = 0;
    let deduplicated = 0;
    let failed = 0;
    const failures: ImageImportSummary['failures'] = [];
    progress.progress(0, candidates.length, 'importing images');
    for (const [index, item] of candidates.entries()) {
      if (progress.signal.aborted) throw new VigilError(ErrorCode.Conflict, 'the import was cancelled');
      try {
        const bytes = await this.sources.read(item.location, this.limits.maxImageBytes);
        const result = await this.catalog.ingest({
          bytes,
          originalName: path.posix.basename(item.relativePath),
          ...(payload.metadata ? { metadata: payload.metadata } : {}),
          actor,
        });
        if (result.deduplicated) deduplicated += 1;
        else imported += 1;
      } catch (error) {
        failed += 1;
        const { code, message } = describeError(error);
        if (failures.length < MAX_REPORTED_FAILURES) {
          failures.push({
            item: describeLocation(item.location),
            code,
            message: isVigilError(error) ? message : 'internal error',
          });
        }
      }
      progress.progress(index + 1, candidates.length, 'importing images');
    }
    return { imported, deduplicated, failed, skipped, failures };
  }
}
