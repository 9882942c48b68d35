import { randomBytes } from 'node:crypto';
import { type Dirent, type Stats } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { ErrorCode, VigilError, errors, isVigilError } from '@vigil/contracts';
import { TEMP_SEGMENT_PREFIX, assertObjectKey, assertObjectPrefix, compareKeys } from './keys';
import type { ObjectInfo, ObjectStore, PutOptions } from './object-store';
import { assertMaxBytes, guardStreamErrors, payloadTooLarge, toBuffer } from './streams';

/** A put can lose a race with delete() pruning the (then empty) parent directory; it simply tries again. */
const MAX_DIRECTORY_RETRIES = 5;

/**
 * Objects as plain files under `rootDir`, the key being the relative path. Writes land in a temp file in
 * the target directory and are renamed into place, so readers never see a partial object.
 * Content types are not kept (ObjectInfo.contentType is null): callers that need them store them in the
 * database next to the key. A key cannot be both an object and a "directory" of other objects here
 * (S3 allows 'a' and 'a/b' together); such a put fails with CONFLICT.
 */
export class LocalDiskObjectStore implements ObjectStore {
  readonly description: string;
  private readonly root: string;

  constructor(rootDir: string) {
    this.root = path.resolve(rootDir);
    this.description = pathToFileURL(this.root).href;
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<ObjectInfo> {
    const target = this.pathFor(key);
    assertExpectedSize(options.size);
    const unguard = guardStreamErrors(body);
    const directory = path.dirname(target);
    const temp = path.join(directory, `${TEMP_SEGMENT_PREFIX}${randomBytes(8).toString('hex')}`);
    let handle: FileHandle | undefined;
    try {
      handle = await this.createTempFile(directory, temp, key);
      const size = await writeBody(handle, body);
      if (options.size !== undefined && size !== options.size) {
        throw errors.badInput(`object '${key}' has ${size} bytes, expected ${options.size}`, {
          key,
          size,
          expected: options.size,
        });
      }
      await handle.sync();
      const stats = await handle.stat();
      await handle.close();
      handle = undefined;
      await renameIntoPlace(temp, target, key);
      await syncDirectory(directory);
      return toInfo(key, stats);
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await rm(temp, { force: true }).catch(() => undefined);
      if (!Buffer.isBuffer(body) && !body.destroyed) body.destroy();
      throw mapFsError(error, key, 'write');
    } finally {
      unguard();
    }
  }

  async get(key: string): Promise<Readable> {
    const handle = await this.openObject(key);
    return handle.createReadStream();
  }

  async getBuffer(key: string, maxBytes?: number): Promise<Buffer> {
    const limit = assertMaxBytes(maxBytes);
    const handle = await this.openObject(key);
    try {
      const { size } = await handle.stat();
      if (size > limit) throw payloadTooLarge(key, limit, size);
      const buffer = await handle.readFile();
      // Objects are immutable, but a file edited behind our back must not slip past the limit.
      if (buffer.length > limit) throw payloadTooLarge(key, limit, buffer.length);
      return buffer;
    } catch (error) {
      throw mapFsError(error, key, 'read');
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const file = this.pathFor(key);
    try {
      const stats = await stat(file);
      return stats.isFile() ? toInfo(key, stats) : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw mapFsError(error, key, 'stat');
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertObjectPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash >= 0 ? prefix.slice(0, slash) : '';
    yield* this.walk(baseKey, prefix);
  }

  async delete(key: string): Promise<void> {
    const file = this.pathFor(key);
    try {
      await unlink(file);
    } catch (error) {
      // A directory at the key means "no object there", the same as a missing file.
      if (isMissing(error) || hasCode(error, 'EISDIR') || hasCode(error, 'EPERM')) return;
      throw mapFsError(error, key, 'delete');
    }
    await this.pruneEmptyDirectories(path.dirname(file));
  }

  private pathFor(key: string): string {
    assertObjectKey(key);
    return path.join(this.root, ...key.split('/'));
  }

  private async openObject(key: string): Promise<FileHandle> {
    const file = this.pathFor(key);
    let handle: FileHandle | undefined;
    try {
      handle = await open(file, 'r');
      if (!(await handle.stat()).isFile()) throw errors.notFound('object', key);
      return handle;
    } catch (error) {
      await handle?.close().catch(() => undefined);
      if (isMissing(error) || hasCode(error, 'EISDIR')) throw errors.notFound('object', key);
      throw mapFsError(error, key, 'read');
    }
  }

  private async createTempFile(directory: string, temp: string, key: string): Promise<FileHandle> {
    for (let attempt = 1; ; attempt++) {
      try {
        await mkdir(directory, { recursive: true });
        return await open(temp, 'wx', 0o644);
      } catch (error) {
        if (hasCode(error, 'ENOTDIR') || hasCode(error, 'EEXIST')) throw keyShadowedByObject(key);
        if (!hasCode(error, 'ENOENT') || attempt >= MAX_DIRECTORY_RETRIES) throw error;
      }
    }
  }

  private async *walk(directoryKey: string, prefix: string): AsyncGenerator<ObjectInfo> {
    const directory = directoryKey === '' ? this.root : path.join(this.root, ...directoryKey.split('/'));
    let entries: Dirent[];
    try {
      entries = await readdir(directory, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw mapFsError(error, directoryKey, 'list');
    }
    const children = entries
      .filter((entry) => (entry.isFile() || entry.isDirectory()) && isListableName(entry.name))
      .map((entry) => {
        const key = directoryKey === '' ? entry.name : `${directoryKey}/${entry.name}`;
        // Everything below directory 'a' sorts as 'a/…', which is what puts it after 'a-b' and before 'a0'.
        return { key, isDirectory: entry.isDirectory(), sortKey: entry.isDirectory() ? `${key}/` : key };
      })
      .sort((a, b) => compareKeys(a.sortKey, b.sortKey));

    for (const child of children) {
      if (child.isDirectory) {
        if (child.sortKey.startsWith(prefix) || prefix.startsWith(child.sortKey)) {
          yield* this.walk(child.key, prefix);
        }
        continue;
      }
      if (!child.key.startsWith(prefix)) continue;
      const info = await this.head(child.key);
      // Deleted between readdir and stat: it is simply not there any more.
      if (info) yield info;
    }
  }

  private async pruneEmptyDirectories(start: string): Promise<void> {
    let directory = start;
    while (directory !== this.root && directory.startsWith(this.root + path.sep)) {
      try {
        await rmdir(directory);
      } catch {
        return; // not empty (or already gone): either way there is nothing more to prune
      }
      directory = path.dirname(directory);
    }
  }
}

async function writeBody(handle: FileHandle, body: Readable | Buffer): Promise<number> {
  if (Buffer.isBuffer(body)) {
    await writeFully(handle, body);
    return body.length;
  }
  let size = 0;
  for await (const chunk of body) {
    const buffer = toBuffer(chunk);
    await writeFully(handle, buffer);
    size += buffer.length;
  }
  return size;
}

async function writeFully(handle: FileHandle, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, offset, buffer.length - offset);
    offset += bytesWritten;
  }
}

async function renameIntoPlace(temp: string, target: string, key: string): Promise<void> {
  try {
    await rename(temp, target);
  } catch (error) {
    if (hasCode(error, 'EISDIR') || hasCode(error, 'ENOTEMPTY') || hasCode(error, 'EEXIST')) {
      throw new VigilError(ErrorCode.Conflict, `object key '${key}' is a prefix of other objects`, { key });
    }
    throw error;
  }
}

/** Makes the rename itself durable; not every platform lets a directory be fsync'ed, hence best effort. */
async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch {
    // best effort
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function keyShadowedByObject(key: string): VigilError {
  return new VigilError(ErrorCode.Conflict, `object key '${key}' lies below an existing object`, { key });
}

function assertExpectedSize(size: number | undefined): void {
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
    throw errors.badInput('size must be a non-negative integer', { size });
  }
}

function isListableName(name: string): boolean {
  if (name.startsWith(TEMP_SEGMENT_PREFIX)) return false;
  try {
    assertObjectKey(name);
    return true;
  } catch {
    return false;
  }
}

function toInfo(key: string, stats: Stats): ObjectInfo {
  return { key, size: stats.size, lastModified: stats.mtime, contentType: null };
}

function hasCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

function isMissing(error: unknown): boolean {
  return hasCode(error, 'ENOENT') || hasCode(error, 'ENOTDIR');
}

function mapFsError(error: unknown, key: string, operation: string): VigilError {
  if (isVigilError(error)) return error;
  if (hasCode(error, 'ENOSPC') || hasCode(error, 'EDQUOT')) {
    return new VigilError(
      ErrorCode.ResourceExhausted,
      `no space left to ${operation} object '${key}'`,
      { key },
      {
        cause: error,
      },
    );
  }
  return new VigilError(
    ErrorCode.Unavailable,
    `local object store could not ${operation} object '${key}'`,
    { key, operation },
    { cause: error },
  );
}
