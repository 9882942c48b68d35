import { beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { ErrorCode, Role, errors, type Principal } from '@vigil/contracts';
import { ImageCatalog, type IngestInput } from '@vigil/images';
import { describeLocation, parseSourceUri, type SourceItem, type SourceLocation } from '@vigil/storage';
import { InMemoryImageRepository, InMemoryObjectStore, syntheticImage } from '@vigil/images/src/testing';
import { ImageImporter, type ImportProgress, type Sources } from './importer';
import type { ImportImagesPayload } from './payloads';

const principal: Principal = { id: 'key-1', name: 'alice', role: Role.Operator };

class FakeSources implements Sources {
  readonly files = new Map<string, Buffer>();
  readonly reads: string[] = [];

  add(uri: string, bytes: Buffer): this {
    this.files.set(describeLocation(parseSourceUri(uri)), bytes);
    return this;
  }

  async *list(root: SourceLocation): AsyncIterable<SourceItem> {
    const prefix = `${describeLocation(root).replace(/\/$/, '')}/`;
    for (const uri of [...this.files.keys()].sort()) {
      if (uri.startsWith(prefix))
        yield {
          relativePath: uri.slice(prefix.length),
          location: parseSourceUri(uri),
          size: this.files.get(uri)!.length,
        };
    }
  }

  async read(location: SourceLocation, maxBytes: number): Promise<Buffer> {
    const uri = describeLocation(location);
    this.reads.push(uri);
    const bytes = this.files.get(uri);
    if (!bytes) throw errors.notFound('file', uri);
    if (bytes.length > maxBytes) throw errors.badInput('too large for the test limit');
    return bytes;
  }
}

function progress(abort = false): ImportProgress & { calls: unknown[][] } {
  const controller = new AbortController();
  if (abort) controller.abort();
  const calls: unknown[][] = [];
  return { signal: controller.signal, calls, progress: (...args) => void calls.push(args) };
}

const payload = (source: string, extra: Partial<ImportImagesPayload> = {}): ImportImagesPayload => ({
  source,
  actor: { principal },
  ...extra,
});

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

let png1: Buffer;
let png2: Buffer;
let jpeg: Buffer;
let repo: InMemoryImageRepository;
let catalog: ImageCatalog;
let sources: FakeSources;
let importer: ImageImporter;

beforeAll(async () => {
  png1 = await syntheticImage({ format: 'png', width: 16, height: 12, seed: 1 });
  png2 = await syntheticImage({ format: 'png', width: 16, height: 12, seed: 2 });
  jpeg = await syntheticImage({ format: 'jpeg', width: 16, height: 12, channels: 3, seed: 3 });
});
beforeEach(() => {
  repo = new InMemoryImageRepository();
  catalog = new ImageCatalog({ images: repo, store: new InMemoryObjectStore() });
  sources = new FakeSources();
  importer = new ImageImporter(catalog, sources, { maxImageBytes: 100_000, allowLocalFiles: false });
});

describe('ImageImporter', () => {
  it('imports every image, skipping non-image and hidden names without reading them', async () => {
    sources
      .add('s3://bucket/in/a.png', png1)
      .add('s3://bucket/in/sub/b.JPG', jpeg)
      .add('s3://bucket/in/notes.txt', Buffer.from('hello'))
      .add('s3://bucket/in/.hidden.png', png2)
      .add('s3://bucket/in/archive.zip', Buffer.from('PK'));
    const tracker = progress();
    const summary = await importer.run(payload('s3://bucket/in'), tracker);
    expect(summary).toEqual({ imported: 2, deduplicated: 0, failed: 0, skipped: 3, failures: [] });
    expect(sources.reads.sort()).toEqual(['s3://bucket/in/a.png', 's3://bucket/in/sub/b.JPG']);
    expect(tracker.calls.at(-1)).toEqual([2, 2, 'importing images']);
    const names = (await catalog.list()).items.map((i) => i.originalName).sort();
    expect(names).toEqual(['a.png', 'b.JPG']);
  });

  it('applies the capture metadata to every image', async () => {
    sources.add('s3://bucket/in/a.png', png1).add('s3://bucket/in/b.png', png2);
    await importer.run(
      payload('s3://bucket/in', {
        metadata: { line: 'L1', lot: 'lot-7', tags: ['night', 'batch'], capturedAt: new Date('2024-01-02T03:04:05Z') },
      }),
      progress(),
    );
    const { items } = await catalog.list();
    expect(items).toHaveLength(2);
    for (const image of items) {
      expect(image).toMatchObject({ line: 'L1', lot: 'lot-7', tags: ['night', 'batch'], createdBy: 'key-1' });
      expect(image.capturedAt?.toISOString()).toBe('2024-01-02T03:04:05.000Z');
    }
  });

  it('counts identical bytes as deduplicated, within one run and across runs', async () => {
    sources.add('s3://bucket/in/a.png', png1).add('s3://bucket/in/copy.png', png1);
    expect(await importer.run(payload('s3://bucket/in'), progress())).toMatchObject({ imported: 1, deduplicated: 1 });
    expect(await importer.run(payload('s3://bucket/in'), progress())).toMatchObject({ imported: 0, deduplicated: 2 });
    expect((await catalog.list()).items).toHaveLength(1);
  });

  it('keeps the good images and lists each failure with its code', async () => {
    sources
      .add('s3://bucket/in/1-good.png', png1)
      .add('s3://bucket/in/2-text.png', Buffer.from('this is not a png'))
      .add('s3://bucket/in/3-big.png', Buffer.alloc(100_001))
      .add('s3://bucket/in/4-good.png', png2);
    const summary = await importer.run(payload('s3://bucket/in'), progress());
    expect(summary).toMatchObject({ imported: 2, deduplicated: 0, failed: 2, skipped: 0 });
    expect(summary.failures).toEqual([
      { item: 's3://bucket/in/2-text.png', code: ErrorCode.UnsupportedMediaType, message: expect.any(String) },
      { item: 's3://bucket/in/3-big.png', code: ErrorCode.BadUserInput, message: 'too large for the test limit' },
    ]);
  });

  it('reports unexpected errors as "internal error" without their message', async () => {
    const failing = new ImageImporter(
      { ingest: async (_input: IngestInput) => Promise.reject(new Error('ECONNREFUSED 10.0.0.3:5432')) },
      sources.add('s3://bucket/in/a.png', png1),
      { maxImageBytes: 100_000, allowLocalFiles: false },
    );
    const summary = await failing.run(payload('s3://bucket/in'), progress());
    expect(summary.failures).toEqual([
      { item: 's3://bucket/in/a.png', code: ErrorCode.Internal, message: 'internal error' },
    ]);
  });

  it('refuses a source with no images, a local folder when not allowed, a bad URI and a cancelled job', async () => {
    sources.add('s3://bucket/docs/readme.md', Buffer.from('#'));
    expect(await rejection(importer.run(payload('s3://bucket/docs'), progress()))).toMatchObject({
      code: ErrorCode.BadUserInput,
      message: expect.stringMatching(/no images found/),
    });
    expect((await rejection(importer.run(payload('/srv/images'), progress()))).code).toBe(ErrorCode.Forbidden);
    expect((await rejection(importer.run(payload('relative/path'), progress()))).code).toBe(ErrorCode.BadUserInput);
    sources.add('s3://bucket/in/a.png', png1);
    expect((await rejection(importer.run(payload('s3://bucket/in'), progress(true)))).code).toBe(ErrorCode.Conflict);
    expect((await catalog.list()).items).toEqual([]);
  });
});
