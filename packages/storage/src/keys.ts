import { errors } from '@vigil/contracts';

/** S3's own limit; local disk paths stay well inside PATH_MAX with it. */
export const MAX_KEY_BYTES = 1024;

/**
 * Local disk writes go to a sibling temp file first; keys may not collide with that naming, so
 * list() can tell a half-written object from a real one without any other bookkeeping.
 */
export const TEMP_SEGMENT_PREFIX = '.vigil-tmp-';

function invalidKey(key: string, reason: string) {
  return errors.badInput(`invalid object key '${key}': ${reason}`, { key, reason });
}

/**
 * Keys are '/'-separated relative paths. The same rules hold for every store so that data can move
 * between local disk and S3 without renaming anything.
 */
export function assertObjectKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw invalidKey(String(key), 'must be a non-empty string');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw invalidKey(key, `longer than ${MAX_KEY_BYTES} bytes`);
  if (key.startsWith('/')) throw invalidKey(key, 'must not be absolute');
  if (key.includes('\\')) throw invalidKey(key, 'must not contain backslashes');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw invalidKey(key, 'must not contain control characters');
  for (const segment of key.split('/')) {
    if (segment === '') throw invalidKey(key, 'must not contain empty segments');
    if (segment === '.' || segment === '..') throw invalidKey(key, "must not contain '.' or '..' segments");
    if (segment.startsWith(TEMP_SEGMENT_PREFIX))
      throw invalidKey(key, `segments must not start with ${TEMP_SEGMENT_PREFIX}`);
  }
}

/**
 * A list prefix is any leading part of a valid key: '' lists everything, 'a/b' matches 'a/b/c' and 'a/bc',
 * 'a/b/' matches only below 'a/b'.
 */
export function assertObjectPrefix(prefix: string): void {
  if (typeof prefix !== 'string') throw invalidKey(String(prefix), 'prefix must be a string');
  if (prefix === '') return;
  const lastSlash = prefix.lastIndexOf('/');
  if (lastSlash >= 0) assertObjectKey(prefix.slice(0, lastSlash));
  const tail = prefix.slice(lastSlash + 1);
  // The trailing partial segment only has to be something a valid key could start with.
  if (tail !== '') assertObjectKey(tail === '.' || tail === '..' ? `${tail}x` : tail);
}

/** S3 lists keys in UTF-8 byte order; JS string comparison (UTF-16) differs for astral characters. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
