import { createReadStream } from 'node:fs';
import { lstat, opendir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { errors, ErrorCode, VigilError } from '@vigil/contracts';
import { S3ObjectStore, parseS3Url } from '../s3-object-store';
import type { ObjectStore } from '../object-store';
import { readBounded } from '../streams';

/**
 * Where a user's images come from: a folder on the server, an S3 prefix in the user's own bucket, or an
 * object already in Vigil's store. Imports and manifests name them with URIs:
 * `s3://bucket/key`, `/abs/path` or `file:///abs/path`, and `vigil://objects/<key>`.
 */
export type SourceLocation =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 's3'; readonly bucket: string; readonly key: string }
  | { readonly kind: 'object'; readonly key: string };

export interface SourceItem {
  /** Path relative to the listed root, '/'-separated. */
  readonly relativePath: string;
  readonly location: SourceLocation;
  readonly size: number;
}

export function describeLocation(location: SourceLocation): string {
  switch (location.kind) {
    case 'file':
      return location.path;
    case 's3':
      return `s3://${location.bucket}/${location.key}`;
    case 'object':
      return `vigil://objects/${location.key}`;
  }
}

export function parseSourceUri(uri: string): SourceLocation {
  const value = uri.trim();
  if (value.startsWith('s3://')) {
    const { bucket, key } = parseS3Url(value);
    return { kind: 's3', bucket, key };
  }
  if (value.startsWith('vigil://objects/')) return { kind: 'object', key: value.slice('vigil://objects/'.length) };
  if (value.startsWith('file://'))
    return { kind: 'file', path: path.resolve(decodeURIComponent(new URL(value).pathname)) };
  if (path.isAbsolute(value)) return { kind: 'file', path: path.resolve(value) };
  throw errors.badInput(
    `'${uri}' is not a source Vigil can read: use s3://bucket/prefix, an absolute folder path or file:// URL`,
    { uri },
  );
}

export interface SourceReaderOptions {
  /** Client for users' buckets (may differ from the one for Vigil's own store). */
  readonly s3Client?: S3Client;
  /** Vigil's own object store, for vigil://objects/ references. */
  readonly objectStore?: ObjectStore;
  /**
   * Folders that local imports may read from; null allows any path (embedded mode on a workstation).
   * A server deployment sets this so an API caller cannot read arbitrary files.
   */
  readonly allowedRoots: readonly string[] | null;
  /** Longest listing accepted, so a mistaken `/` does not walk a whole disk. */
  readonly maxItems?: number;
}

const DEFAULT_MAX_ITEMS = 200_000;

export class SourceReader {
  constructor(private readonly options: SourceReaderOptions) {}

  private resolvedRoots: Promise<string[]> | null = null;

  /** Allowed roots with links resolved, since the paths checked against them are resolved too. */
  private realRoots(): Promise<string[]> {
    this.resolvedRoots ??= Promise.all(
      (this.options.allowedRoots ?? []).map((root) => realpath(root).catch(() => path.resolve(root))),
    );
    return this.resolvedRoots;
  }

  private async checkAllowed(filePath: string): Promise<string> {
    let real: string;
    try {
      real = await realpath(filePath);
    } catch {
      throw errors.notFound('path', filePath);
    }
    if (this.options.allowedRoots === null) return real;
    const roots = await this.realRoots();
    const allowed = roots.some(
      (root) => real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep),
    );
    if (!allowed)
      throw errors.forbidden(`'${filePath}' is outside the folders this server may import from`, { path: filePath });
    return real;
  }

  private s3(bucket: string): S3ObjectStore {
    if (!this.options.s3Client) {
      throw new VigilError(
        ErrorCode.BadUserInput,
        'no S3 client is configured for reading s3:// sources (set SOURCE_S3_* or S3_*)',
        { bucket },
      );
    }
    return new S3ObjectStore({ client: this.options.s3Client, bucket });
  }

  /** Every file below a folder or S3 prefix, in key order, with paths relative to it. */
  async *list(root: SourceLocation): AsyncGenerator<SourceItem> {
    const max = this.options.maxItems ?? DEFAULT_MAX_ITEMS;
    let count = 0;
    const bump = () => {
      count += 1;
      if (count > max)
        throw errors.badInput(`the source holds more than ${max} files; import a narrower folder or prefix`, { max });
    };
    if (root.kind === 'file') {
      const real = await this.checkAllowed(root.path);
      const info = await stat(real);
      if (!info.isDirectory()) throw errors.badInput(`'${root.path}' is not a folder`, { path: root.path });
      for await (const item of walk(real, '')) {
        bump();
        yield item;
      }
      return;
    }
    if (root.kind === 's3') {
      const prefix = root.key === '' || root.key.endsWith('/') ? root.key : `${root.key}/`;
      const store = this.s3(root.bucket);
      for await (const info of store.list(prefix)) {
        if (info.key.endsWith('/')) continue; // "folder" placeholder objects
        bump();
        yield {
          relativePath: info.key.slice(prefix.length),
          location: { kind: 's3', bucket: root.bucket, key: info.key },
          size: info.size,
        };
      }
      return;
    }
    throw errors.badInput('a vigil:// object cannot be listed as a folder');
  }

  /** The bytes at a location, at most `maxBytes` (PAYLOAD_TOO_LARGE beyond). */
  async read(location: SourceLocation, maxBytes: number): Promise<Buffer> {
    switch (location.kind) {
      case 'file': {
        const real = await this.checkAllowed(location.path);
        const info = await lstat(real);
        if (!info.isFile()) throw errors.badInput(`'${location.path}' is not a file`, { path: location.path });
        return readBounded(createReadStream(real), location.path, maxBytes);
      }
      case 's3':
        return this.s3(location.bucket).getBuffer(location.key, maxBytes);
      case 'object': {
        if (!this.options.objectStore) throw errors.badInput('vigil:// references need the object store');
        return this.options.objectStore.getBuffer(location.key, maxBytes);
      }
    }
  }
}

async function* walk(absolute: string, relative: string): AsyncGenerator<SourceItem> {
  const dir = await opendir(absolute);
  const names: { name: string; isDir: boolean; isFile: boolean }[] = [];
  for await (const entry of dir) names.push({ name: entry.name, isDir: entry.isDirectory(), isFile: entry.isFile() });
  names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of names) {
    const childAbsolute = path.join(absolute, entry.name);
    const childRelative = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDir) {
      yield* walk(childAbsolute, childRelative);
    } else if (entry.isFile) {
      const info = await stat(childAbsolute);
      yield { relativePath: childRelative, location: { kind: 'file', path: childAbsolute }, size: info.size };
    }
    // Symlinks and special files are skipped: an import reads regular files only.
  }
}
