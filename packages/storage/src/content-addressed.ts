import { createHash } from 'node:crypto';
import { errors } from '@vigil/contracts';
import { assertObjectKey } from './keys';
import type { ObjectStore } from './object-store';

export const DEFAULT_CONTENT_NAMESPACE = 'objects';

export function sha256Hex(bytes: Buffer | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The object key of a blob addressed by its sha256: `objects/ab/cd/abcd…`. The two fan-out levels keep
 * directories small on local disk and spread S3 key prefixes.
 */
export function contentKey(sha256: string, namespace: string = DEFAULT_CONTENT_NAMESPACE): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw errors.badInput(`'${sha256}' is not a lowercase sha256 hex digest`, { sha256 });
  }
  assertObjectKey(namespace);
  return `${namespace}/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}

export interface PutContentAddressedOptions {
  readonly namespace?: string;
  readonly contentType?: string;
}

export interface ContentAddressedObject {
  /** The sha256 of the bytes (hex): the blob's identity, e.g. images.id. */
  readonly key: string;
  /** Where the bytes live in the store: contentKey(key, namespace). */
  readonly objectKey: string;
  readonly size: number;
  /** False when identical bytes were already stored and nothing was written. */
  readonly created: boolean;
}

/**
 * Stores bytes under their digest, once. Two concurrent calls with the same new bytes may both write;
 * the writes are atomic and identical, so the result is the same object either way.
 */
export async function putContentAddressed(
  store: ObjectStore,
  bytes: Buffer,
  options: PutContentAddressedOptions = {},
): Promise<ContentAddressedObject> {
  const key = sha256Hex(bytes);
  const objectKey = contentKey(key, options.namespace ?? DEFAULT_CONTENT_NAMESPACE);
  const existing = await store.head(objectKey);
  // A size mismatch means a damaged or truncated earlier write: replace it rather than trust it.
  if (existing && existing.size === bytes.length) {
    return { key, objectKey, size: bytes.length, created: false };
  }
  await store.put(objectKey, bytes, {
    size: bytes.length,
    ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
  });
  return { key, objectKey, size: bytes.length, created: true };
}
