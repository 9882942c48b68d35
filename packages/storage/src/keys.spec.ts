import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@vigil/contracts';
import { contentKey, sha256Hex } from './content-addressed';
import { assertObjectKey, assertObjectPrefix, compareKeys } from './keys';
import { parseS3Url } from './s3-object-store';

const bad = { code: ErrorCode.BadUserInput };

describe('object keys', () => {
  it('accepts relative slash-separated keys', () => {
    for (const key of ['a', 'a/b/c.png', 'images/2024-01-01/cam 1/x.tiff', 'ü/日本', '.hidden', 'a..b']) {
      expect(() => assertObjectKey(key)).not.toThrow();
    }
  });

  it('rejects traversal, absolute paths and empty segments', () => {
    for (const key of ['', '/a', 'a/', 'a//b', '..', '../a', 'a/..', 'a/./b', 'a\\b', 'x\n', 'a/.vigil-tmp-1']) {
      expect(() => assertObjectKey(key)).toThrow(expect.objectContaining(bad));
    }
    expect(() => assertObjectKey('k'.repeat(1025))).toThrow(expect.objectContaining(bad));
  });

  it('accepts any leading part of a key as a prefix', () => {
    for (const prefix of ['', 'a', 'a/', 'a/b', 'a/.', 'a/..x', '.']) {
      expect(() => assertObjectPrefix(prefix)).not.toThrow();
    }
    for (const prefix of ['/', '/a', 'a//', '../', 'a/../b']) {
      expect(() => assertObjectPrefix(prefix)).toThrow(expect.objectContaining(bad));
    }
  });

  it('orders keys by UTF-8 bytes like S3', () => {
    const keys = ['a0', 'a/b', 'a-b', '\u{1F600}', '\uFF61'];
    expect([...keys].sort(compareKeys)).toEqual(['a-b', 'a/b', 'a0', '\uFF61', '\u{1F600}']);
  });
});

describe('content addressing', () => {
  it('hashes with sha256', () => {
    expect(sha256Hex(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('fans keys out by the first two bytes of the digest', () => {
    const digest = sha256Hex(Buffer.from('abc'));
    expect(contentKey(digest)).toBe(`objects/ba/78/${digest}`);
    expect(contentKey(digest, 'masks/v1')).toBe(`masks/v1/ba/78/${digest}`);
  });

  it('rejects anything but a lowercase hex sha256', () => {
    for (const digest of ['', 'abc', 'A'.repeat(64), 'g'.repeat(64), '../'.repeat(22)]) {
      expect(() => contentKey(digest)).toThrow(expect.objectContaining(bad));
    }
    expect(() => contentKey('a'.repeat(64), '../up')).toThrow(expect.objectContaining(bad));
  });
});

describe('parseS3Url', () => {
  it('splits bucket and key', () => {
    expect(parseS3Url('s3://bucket/some/prefix')).toEqual({ bucket: 'bucket', key: 'some/prefix' });
    expect(parseS3Url('s3://my.bucket-1/dir/')).toEqual({ bucket: 'my.bucket-1', key: 'dir/' });
    expect(parseS3Url('s3://bucket')).toEqual({ bucket: 'bucket', key: '' });
    expect(parseS3Url('s3://bucket/')).toEqual({ bucket: 'bucket', key: '' });
  });

  it('rejects other schemes, bad bucket names and traversal', () => {
    for (const url of [
      '',
      'http://bucket/x',
      's3:/bucket',
      's3://',
      's3://B/x',
      's3://ab/x',
      's3://a..b/x',
      's3://b_c/x',
    ]) {
      expect(() => parseS3Url(url)).toThrow(expect.objectContaining(bad));
    }
    expect(() => parseS3Url('s3://bucket//x')).toThrow(expect.objectContaining(bad));
    expect(() => parseS3Url('s3://bucket/a/../b')).toThrow(expect.objectContaining(bad));
  });
});
