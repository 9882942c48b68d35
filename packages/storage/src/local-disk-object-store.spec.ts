import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@vigil/contracts';
import { LocalDiskObjectStore } from './local-disk-object-store';
import type { ObjectInfo } from './object-store';
import { describeObjectStoreContract } from './testing/object-store-contract';

const roots: string[] = [];
async function freshRoot(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'vigil-local-store-'));
  roots.push(root);
  return root;
}
afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

async function keys(iterable: AsyncIterable<ObjectInfo>): Promise<string[]> {
  const result: string[] = [];
  for await (const item of iterable) result.push(item.key);
  return result;
}

async function tempFiles(directory: string): Promise<string[]> {
  const names = await readdir(directory).catch(() => []);
  return names.filter((name) => name.startsWith('.vigil-tmp-'));
}

/** Waits until the store has written into `count` temp files in `directory` (fs work runs off-thread). */
async function untilTempFiles(directory: string, count: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while ((await tempFiles(directory)).length < count) {
    if (Date.now() > deadline) throw new Error(`no ${count} temp files appeared in ${directory}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describeObjectStoreContract('LocalDiskObjectStore', {
  create: async () => new LocalDiskObjectStore(await freshRoot()),
  preservesContentType: false,
});

describe('LocalDiskObjectStore on disk', () => {
  it('stores keys as relative paths under the root', async () => {
    const root = await freshRoot();
    const store = new LocalDiskObjectStore(root);
    await store.put('a/b/c.txt', Buffer.from('hi'));
    expect(await readdir(path.join(root, 'a', 'b'))).toEqual(['c.txt']);
    expect(store.description).toBe(`file://${root}`);
  });

  it('never shows a partially written object, and readers keep the old version until the rename', async () => {
    const root = await freshRoot();
    const store = new LocalDiskObjectStore(root);
    await store.put('dir/old', Buffer.from('old content'));

    const body = new PassThrough();
    const newWrite = store.put('dir/new', body);
    const overwrite = new PassThrough();
    const replaceOld = store.put('dir/old', overwrite);
    body.write(Buffer.alloc(4096, 7));
    overwrite.write(Buffer.from('new '));
    await untilTempFiles(path.join(root, 'dir'), 2);

    expect(await store.head('dir/new')).toBeNull();
    await expect(store.get('dir/new')).rejects.toMatchObject({ code: ErrorCode.NotFound });
    expect((await store.getBuffer('dir/old')).toString()).toBe('old content');
    expect(await keys(store.list(''))).toEqual(['dir/old']);
    // The bytes are on disk, but only in temp files that list() and head() do not see.
    expect(await tempFiles(path.join(root, 'dir'))).toHaveLength(2);

    body.end(Buffer.alloc(4096, 8));
    overwrite.end(Buffer.from('content'));
    await Promise.all([newWrite, replaceOld]);
    expect((await store.head('dir/new'))?.size).toBe(8192);
    expect((await store.getBuffer('dir/old')).toString()).toBe('new content');
    expect((await readdir(path.join(root, 'dir'))).sort()).toEqual(['new', 'old']);
  });

  it('removes the temp file when a write fails', async () => {
    const root = await freshRoot();
    const store = new LocalDiskObjectStore(root);
    const body = new PassThrough();
    const write = store.put('x/y', body);
    body.write('partial');
    await untilTempFiles(path.join(root, 'x'), 1);
    body.destroy(new Error('upload aborted'));
    await expect(write).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    expect(await readdir(path.join(root, 'x'))).toEqual([]);
  });

  it('survives a body that fails before the store starts reading it', async () => {
    const store = new LocalDiskObjectStore(await freshRoot());
    const body = new PassThrough();
    const write = store.put('early/failure', body);
    body.destroy(new Error('failed at once'));
    await expect(write).rejects.toMatchObject({ code: ErrorCode.Unavailable });
    expect(await store.head('early/failure')).toBeNull();
  });

  it('ignores temp files left by a crash', async () => {
    const root = await freshRoot();
    const store = new LocalDiskObjectStore(root);
    await store.put('p/real', Buffer.from('1'));
    await writeFile(path.join(root, 'p', '.vigil-tmp-0123456789abcdef'), 'half');
    await mkdir(path.join(root, '.vigil-tmp-dir'));
    await writeFile(path.join(root, '.vigil-tmp-dir', 'file'), 'half');
    expect(await keys(store.list(''))).toEqual(['p/real']);
    expect(await keys(store.list('p/.vigil'))).toEqual([]);
  });

  it('prunes directories that deletes leave empty, but not the root', async () => {
    const root = await freshRoot();
    const store = new LocalDiskObjectStore(root);
    await store.put('a/b/c/d', Buffer.from('1'));
    await store.put('a/e', Buffer.from('2'));
    await store.delete('a/b/c/d');
    expect(await readdir(path.join(root, 'a'))).toEqual(['e']);
    await store.delete('a/e');
    expect(await readdir(root)).toEqual([]);
  });

  it('reports a key that is both an object and a prefix of objects as CONFLICT', async () => {
    const store = new LocalDiskObjectStore(await freshRoot());
    await store.put('file', Buffer.from('1'));
    await expect(store.put('file/child', Buffer.from('2'))).rejects.toMatchObject({ code: ErrorCode.Conflict });
    await store.put('dir/child', Buffer.from('3'));
    await expect(store.put('dir', Buffer.from('4'))).rejects.toMatchObject({ code: ErrorCode.Conflict });
    expect(await store.head('dir')).toBeNull();
    await expect(store.get('dir')).rejects.toMatchObject({ code: ErrorCode.NotFound });
    await store.delete('dir');
    expect(await keys(store.list(''))).toEqual(['dir/child', 'file']);
  });

  it('lists nothing (rather than failing) when the root does not exist yet', async () => {
    const store = new LocalDiskObjectStore(path.join(await freshRoot(), 'not', 'yet'));
    expect(await keys(store.list(''))).toEqual([]);
    await store.put('now', Buffer.from('1'));
    expect(await keys(store.list(''))).toEqual(['now']);
  });
});
