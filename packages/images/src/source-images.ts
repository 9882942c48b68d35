import path from 'node:path';
import type { SourceItem, SourceLocation } from '@vigil/storage';

/** Names that can be images; the real format is still decided from the bytes. */
export const IMAGE_FILE_NAME = /\.(jpe?g|png|bmp|tiff?)$/i;

export interface SourceLister {
  list(root: SourceLocation): AsyncIterable<SourceItem>;
}

/**
 * The files below a folder or S3 prefix that can be images, in listing order; hidden files and other names
 * are counted as skipped. Stops with `onAbort()`'s error when `signal` fires.
 */
export async function listSourceImages(
  sources: SourceLister,
  root: SourceLocation,
  options: { signal?: AbortSignal; onAbort?: () => Error } = {},
): Promise<{ images: SourceItem[]; skipped: number }> {
  const images: SourceItem[] = [];
  let skipped = 0;
  for await (const item of sources.list(root)) {
    if (options.signal?.aborted) throw options.onAbort?.() ?? new Error('aborted');
    const name = path.posix.basename(item.relativePath);
    if (name.startsWith('.') || !IMAGE_FILE_NAME.test(name)) skipped += 1;
    else images.push(item);
  }
  return { images, skipped };
}
