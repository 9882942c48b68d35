import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseSourceUri, SourceReader, type SourceItem } from './source-reader';

async function collect(iterable: AsyncIterable<SourceItem>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of iterable) out.push(item.relativePath);
  return out;
}

describe('parseSourceUri', () => {
  it('reads s3, file, absolute and vigil references', () => {
    expect(parseSourceUri('s3://bucket/a/b')).toEqual({ kind: 's3', bucket: 'bucket', key: 'a/b' });
    expect(parseSourceUri('file:///tmp/x%20y')).toEqual({ kind: 'file', path: '/tmp/x y' });
    expect(parseSourceUri('/data/images/')).toEqual({ kind: 'file', path: '/data/images' });
    expect(parseSourceUri('vigil://objects/objects/ab/cd/x')).toEqual({ kind: 'object', key: 'objects/ab/cd/x' });
  });

  it('refuses relative paths and other schemes with BAD_USER_INPUT', () => {
    for (const uri of ['images/', 'http://example.com/a.png', '']) {
      expect(() => parseSourceUri(uri)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    }
  });
});

describe('SourceReader on local folders', () => {
  let root: string;
  let inside: string;
  let outside: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'vigil-sources-'));
    inside = path.join(root, 'inside');
    outside = path.join(root, 'outside');
    await mkdir(path.join(inside, 'b'), { recursive: true });
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(inside, 'b', 'two.png'), 'two');
    await writeFile(path.join(inside, 'a.png'), 'one');
    await writeFile(path.join(outside, 'secret.png'), 'secret');
    await symlink(path.join(outside, 'secret.png'), path.join(inside, 'link.png'));
    await symlink(inside, path.join(root, 'alias'));
  });

  afterAll(() => rm(root, { recursive: true, force: true }));

  it('lists regular files in key order with relative paths, skipping links', async () => {
    const reader = new SourceReader({ allowedRoots: null });
    expect(await collect(reader.list({ kind: 'file', path: inside }))).toEqual(['a.png', 'b/two.png']);
  });

  it('keeps reads inside the allowed roots, even through links', async () => {
    const reader = new SourceReader({ allowedRoots: [inside] });
    expect((await reader.read({ kind: 'file', path: path.join(inside, 'a.png') }, 100)).toString()).toBe('one');
    await expect(reader.read({ kind: 'file', path: path.join(outside, 'secret.png') }, 100)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(reader.read({ kind: 'file', path: path.join(inside, 'link.png') }, 100)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
  });

  it('accepts an allowed root that is itself a link', async () => {
    const reader = new SourceReader({ allowedRoots: [path.join(root, 'alias')] });
    expect((await reader.read({ kind: 'file', path: path.join(root, 'alias', 'a.png') }, 100)).toString()).toBe('one');
    expect(await collect(reader.list({ kind: 'file', path: path.join(root, 'alias') }))).toEqual([
      'a.png',
      'b/two.png',
    ]);
  });

  it('disables local reads with an empty root list, and reports missing paths and oversize files', async () => {
    const none = new SourceReader({ allowedRoots: [] });
    await expect(none.read({ kind: 'file', path: path.join(inside, 'a.png') }, 100)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    const any = new SourceReader({ allowedRoots: null });
    await expect(any.read({ kind: 'file', path: path.join(inside, 'nope.png') }, 100)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(any.read({ kind: 'file', path: path.join(inside, 'a.png') }, 2)).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
  });

  it('stops a listing that is larger than the limit', async () => {
    const reader = new SourceReader({ allowedRoots: null, maxItems: 1 });
    await expect(collect(reader.list({ kind: 'file', path: inside }))).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
  });
});
