import { contentKey } from '@vigil/storage';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

/**
 * The object-store key of an image's bytes: the storage package's content key of their sha256, so
 * identical bytes share one object and masks/other blobs live under the same scheme.
 */
export function imageObjectKey(sha: string): string {
  return contentKey(sha);
}
