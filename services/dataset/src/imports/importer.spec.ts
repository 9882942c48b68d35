import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DatasetType, ErrorCode, Role, VigilError, errors, type Principal } from '@vigil/contracts';
import type { DatabaseHandle } from '@vigil/db';
import { KyselyAuditTrail } from '@vigil/service-kit';
import { contentKey, describeLocation, parseSourceUri, type SourceItem, type SourceLocation } from '@vigil/storage';
import { openMigratedTestDatabase } from '@vigil/images/src/testing';
import { DatasetService } from '../domain/datasets';
import { ProjectService, type Project, type Transactor } from '../domain/projects';
import { KyselyDatasetRepository } from '../repositories/datasets';
import { KyselyEntryRepository } from '../repositories/entries';
import { KyselyProjectRepository } from '../repositories/projects';
import { DatasetImporter, labelFromFileName, type ImporterLimits } from './importer';
import type { ImportFolderPayload, ImportManifestPayload } from './payloads';
import type { ImageIntake, ImportProgress, MaskIntake, Sources } from './ports';

const principal: Principal = { id: 'key-1', name: 'alice', role: Role.Operator };
const actor = { principal };
const sha = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** Files by URI; bytes starting with "broken" are not images, "crash" makes the intake throw a plain Error. */
class FakeSources implements Sources {
  readonly files = new Map<string, Buffer>();
  reads = 0;

  add(uri: string, content: string): this {
    this.files.set(describeLocation(parseSourceUri(uri)), Buffer.from(content));
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
    this.reads += 1;
    const bytes = this.files.get(describeLocation(location));
    if (!bytes) throw errors.notFound('file', describeLocation(location));
    if (bytes.length > maxBytes) throw new VigilError(ErrorCode.PayloadTooLarge, 'too large');
    return bytes;
  }
}

/** Catalogues images as rows keyed by their sha256, like the real catalogue, without decoding anything. */
class FakeImages implements ImageIntake {
  readonly names: string[] = [];
  constructor(private readonly handle: DatabaseHandle) {}

  async ingest(input: { bytes: Buffer; originalName?: string; actor: Principal }) {
    const text = input.bytes.toString();
    if (text.startsWith('broken')) throw errors.invalidImage('not an image');
    if (text.startsWith('crash')) throw new Error('disk failure at /srv/secret/path');
    this.names.push(input.originalName ?? '');
    const id = sha(input.bytes);
    const inserted = await this.handle.db
      .insertInto('images')
      .values({
        id,
        format: 'png',
        width: 1,
        height: 1,
        channels: 1,
        bit_depth: 8,
        byte_size: input.bytes.length,
        tags: '[]',
        created_by: input.actor.id,
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .executeTakeFirst();
    return { imageId: id, deduplicated: inserted === undefined };
  }
}

class FakeMasks implements MaskIntake {
  stored = 0;
  async store(bytes: Buffer) {
    if (bytes.toString().startsWith('broken')) throw errors.invalidImage('a mask must be a PNG');
    this.stored += 1;
    return { objectKey: contentKey(sha(bytes)) };
  }
}

function progress(abort = false): ImportProgress & { calls: [number, number | undefined, string | undefined][] } {
  const controller = new AbortController();
  if (abort) controller.abort();
  const calls: [number, number | undefined, string | undefined][] = [];
  return { signal: controller.signal, calls, progress: (done, total, step) => void calls.push([done, total, step]) };
}

const line = (ref: string, label: 0 | 1, extra: Record<string, unknown> = {}, className?: string) =>
  JSON.stringify({
    'source-ref': ref,
    'anomaly-label': label,
    'anomaly-label-metadata': {
      type: 'groundtruth/image-classification',
      'class-name': className ?? (label === 1 ? 'anomaly' : 'normal'),
    },
    ...extra,
  });

const maskOf = (ref: string) => ({
  'anomaly-mask-ref': ref,
  'anomaly-mask-ref-metadata': {
    type: 'groundtruth/semantic-segmentation',
    'internal-color-map': { '0': { 'class-name': 'cracked', 'hex-color': '#23A436' } },
  },
});

async function rejection(
  promise: Promise<unknown>,
): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string; details: Record<string, unknown> };
  }
  throw new Error('expected a rejection');
}

const LIMITS: ImporterLimits = { maxImageBytes: 1000, maxManifestBytes: 10_000, allowLocalFiles: false };

let handle: DatabaseHandle;
let projects: ProjectService;
let datasets: DatasetService;
let project: Project;
let sources: FakeSources;
let images: FakeImages;
let masks: FakeMasks;
let importer: DatasetImporter;

beforeAll(async () => {
  handle = await openMigratedTestDatabase();
  const db = handle.db;
  const tx: Transactor = { transaction: (work) => db.transaction().execute(work) };
  const audit = new KyselyAuditTrail(db);
  projects = new ProjectService(new KyselyProjectRepository(db), audit, tx);
  const lookup = {
    missing: async (ids: readonly string[]) => {
      const found = new Set(
        (
          await db
            .selectFrom('images')
            .select('id')
            .where('id', 'in', [...ids])
            .execute()
        ).map((r) => r.id),
      );
      return ids.filter((id) => !found.has(id));
    },
  };
  datasets = new DatasetService(
    projects,
    new KyselyDatasetRepository(db),
    new KyselyEntryRepository(db),
    lookup,
    audit,
    tx,
  );
});
afterAll(() => handle.close());
beforeEach(async () => {
  await handle.db.deleteFrom('projects').execute();
  await handle.db.deleteFrom('images').execute();
  project = await projects.create({ name: 'imports' }, actor);
  sources = new FakeSources();
  images = new FakeImages(handle);
  masks = new FakeMasks();
  importer = new DatasetImporter(projects, datasets, images, masks, sources, LIMITS);
});

async function entriesOf(type: DatasetType) {
  const dataset = await datasets.find(project.id, type);
  return dataset ? datasets.allEntries(dataset.id) : [];
}

function manifestPayload(text: string, extra: Partial<ImportManifestPayload> = {}): ImportManifestPayload {
  return {
    projectId: project.id,
    datasetType: DatasetType.Train,
    manifestText: text,
    baseUri: 's3://bucket/data',
    allowPartial: false,
    actor,
    ...extra,
  };
}

describe('DatasetImporter.importManifest', () => {
  beforeEach(() => {
    sources
      .add('s3://bucket/data/img/n1.png', 'normal one')
      .add('s3://bucket/data/img/n2.png', 'normal two')
      .add('s3://bucket/data/img/a1.png', 'anomaly one')
      .add('s3://bucket/data/masks/a1.png', 'mask one')
      .add('s3://bucket/data/img/bad.png', 'broken bytes');
  });

  it('imports every line with labels and masks', async () => {
    const text = [line('img/n1.png', 0), line('img/n2.png', 0), line('img/a1.png', 1, maskOf('masks/a1.png'))].join(
      '\n',
    );
    const tracker = progress();
    const summary = await importer.importManifest(manifestPayload(text), tracker);
    expect(summary).toMatchObject({
      source: 'inline manifest',
      layout: null,
      entriesCreated: 3,
      entriesUpdated: 0,
      imagesStored: 3,
      imagesDeduplicated: 0,
      masks: 1,
      byDataset: [{ type: 'train', normal: 2, anomaly: 1, unlabelled: 0 }],
      warnings: [],
      failures: [],
    });
    const entries = await entriesOf(DatasetType.Train);
    const anomaly = entries.find((e) => e.label === 'anomaly');
    expect(anomaly?.mask).toEqual({
      objectKey: contentKey(sha('mask one')),
      classes: [{ name: 'cracked', color: '#23A436' }],
    });
    expect(anomaly?.sourceRef).toBe('img/a1.png');
    expect(images.names.sort()).toEqual(['a1.png', 'n1.png', 'n2.png']);
    expect(tracker.calls[0]).toEqual([0, 3, 'importing images']);
    expect(tracker.calls.at(-1)).toEqual([3, 3, 'saving entries']);
  });

  it('reads the manifest from manifestUri and resolves refs next to it', async () => {
    sources.add('s3://bucket/data/train.manifest', [line('img/n1.png', 0), line('img/a1.png', 1)].join('\n'));
    const summary = await importer.importManifest(
      {
        projectId: project.id,
        datasetType: DatasetType.Test,
        manifestUri: 's3://bucket/data/train.manifest',
        allowPartial: false,
        actor,
      },
      progress(),
    );
    expect(summary.source).toBe('s3://bucket/data/train.manifest');
    expect(summary.byDataset).toEqual([{ type: 'test', normal: 1, anomaly: 1, unlabelled: 0 }]);
    expect((await entriesOf(DatasetType.Test)).map((e) => e.label).sort()).toEqual(['anomaly', 'normal']);
  });

  it('is all-or-nothing: one bad line fails the import with INVALID_MANIFEST and nothing is added', async () => {
    const text = [line('img/n1.png', 0), line('img/bad.png', 1), line('img/missing.png', 0)].join('\n');
    const error = await rejection(importer.importManifest(manifestPayload(text), progress()));
    expect(error.code).toBe(ErrorCode.InvalidManifest);
    expect(error.message).toMatch(/2 of 3 manifest lines could not be imported; nothing was added/);
    expect(error.details['failureCount']).toBe(2);
    expect(error.details['failures']).toEqual([
      { item: 'img/bad.png', code: ErrorCode.InvalidImage, message: 'not an image', line: 2 },
      { item: 'img/missing.png', code: ErrorCode.NotFound, message: expect.stringContaining('missing.png'), line: 3 },
    ]);
    expect(await datasets.ofProject(project.id)).toEqual([]);
  });

  it('keeps the good lines with allowPartial and lists each failure', async () => {
    const text = [line('img/n1.png', 0), line('img/bad.png', 1), line('img/a1.png', 1, maskOf('masks/none.png'))].join(
      '\n',
    );
    const summary = await importer.importManifest(manifestPayload(text, { allowPartial: true }), progress());
    expect(summary.entriesCreated).toBe(1);
    expect(summary.failures.map((f) => [f.line, f.code])).toEqual([
      [2, ErrorCode.InvalidImage],
      [3, ErrorCode.NotFound],
    ]);
    expect((await entriesOf(DatasetType.Train)).map((e) => e.sourceRef)).toEqual(['img/n1.png']);
  });

  it('reports an unexpected error as "internal error" without its message', async () => {
    sources.add('s3://bucket/data/img/crash.png', 'crash now');
    const summary = await importer.importManifest(
      manifestPayload([line('img/n1.png', 0), line('img/crash.png', 0)].join('\n'), { allowPartial: true }),
      progress(),
    );
    expect(summary.failures).toEqual([
      { item: 'img/crash.png', code: ErrorCode.Internal, message: 'internal error', line: 2 },
    ]);
    expect(JSON.stringify(summary)).not.toContain('/srv/secret');
  });

  it('refuses a malformed manifest with INVALID_MANIFEST before reading any image', async () => {
    const text = [line('img/n1.png', 0), '{not json', JSON.stringify({ 'source-ref': 'img/n2.png' })].join('\n');
    const error = await rejection(importer.importManifest(manifestPayload(text), progress()));
    expect(error.code).toBe(ErrorCode.InvalidManifest);
    expect(sources.reads).toBe(0);
    expect(images.names).toEqual([]);
    expect(await datasets.ofProject(project.id)).toEqual([]);
  });

  it('refuses refs that climb out of the bucket with INVALID_MANIFEST and writes nothing', async () => {
    const error = await rejection(importer.importManifest(manifestPayload(line('../../../etc/passwd', 0)), progress()));
    expect(error.code).toBe(ErrorCode.InvalidManifest);
    expect(sources.reads).toBe(0);
  });

  it('surfaces label-conflict warnings and uses the class name', async () => {
    const text = [line('img/n1.png', 1, {}, 'normal'), line('img/a1.png', 1)].join('\n');
    const summary = await importer.importManifest(manifestPayload(text), progress());
    expect(summary.warnings).toEqual([
      { line: 1, message: expect.stringMatching(/class-name says "normal"; using normal/) },
    ]);
    expect(summary.byDataset).toEqual([{ type: 'train', normal: 1, anomaly: 1, unlabelled: 0 }]);
  });

  it('counts deduplicated images and updated entries on a second import', async () => {
    const text = [line('img/n1.png', 0), line('img/a1.png', 1)].join('\n');
    await importer.importManifest(manifestPayload(text), progress());
    const again = await importer.importManifest(
      manifestPayload([line('img/n1.png', 1), line('img/n2.png', 0)].join('\n')),
      progress(),
    );
    expect(again).toMatchObject({ imagesStored: 1, imagesDeduplicated: 1, entriesCreated: 1, entriesUpdated: 1 });
    expect((await entriesOf(DatasetType.Train)).map((e) => e.label).sort()).toEqual(['anomaly', 'anomaly', 'normal']);
  });

  it('imports two refs with identical bytes as one entry and counts it once', async () => {
    sources.add('s3://bucket/data/img/copy-of-n1.png', 'normal one');
    const text = [line('img/n1.png', 0), line('img/copy-of-n1.png', 0)].join('\n');
    const summary = await importer.importManifest(manifestPayload(text), progress());
    expect(summary).toMatchObject({ imagesStored: 1, imagesDeduplicated: 1, entriesCreated: 1 });
    expect(summary.byDataset).toEqual([{ type: 'train', normal: 1, anomaly: 0, unlabelled: 0 }]);
  });

  it('fails relative refs of an inline manifest without baseUri, naming the problem', async () => {
    const error = await rejection(
      importer.importManifest(manifestPayload(line('img/n1.png', 0), { baseUri: undefined }), progress()),
    );
    expect(error.code).toBe(ErrorCode.InvalidManifest);
    expect(error.message).toMatch(/baseUri/);
  });

  it('refuses an oversize manifest, a local manifest file, an unknown project and a cancelled job', async () => {
    const big = 'x'.repeat(LIMITS.maxManifestBytes + 1);
    expect((await rejection(importer.importManifest(manifestPayload(big), progress()))).code).toBe(
      ErrorCode.PayloadTooLarge,
    );
    const local = { ...manifestPayload(''), manifestText: undefined, manifestUri: '/etc/vigil/train.manifest' };
    expect((await rejection(importer.importManifest(local, progress()))).code).toBe(ErrorCode.Forbidden);
    const elsewhere = manifestPayload(line('img/n1.png', 0), { projectId: '00000000-0000-4000-8000-000000000000' });
    expect((await rejection(importer.importManifest(elsewhere, progress()))).code).toBe(ErrorCode.NotFound);
    expect(
      (await rejection(importer.importManifest(manifestPayload(line('img/n1.png', 0)), progress(true)))).code,
    ).toBe(ErrorCode.Conflict);
    expect(await datasets.ofProject(project.id)).toEqual([]);
  });
});

function folderPayload(source: string, extra: Partial<ImportFolderPayload> = {}): ImportFolderPayload {
  return { projectId: project.id, source, actor, ...extra };
}

describe('DatasetImporter.importFolder', () => {
  it('imports the Lookout layout into train and test', async () => {
    sources
      .add('s3://bucket/lookout/Train/Normal/1.png', 'tn1')
      .add('s3://bucket/lookout/Train/Normal/2.png', 'tn2')
      .add('s3://bucket/lookout/Train/Anomaly/1.png', 'ta1')
      .add('s3://bucket/lookout/Test/Normal/1.png', 'sn1')
      .add('s3://bucket/lookout/Test/Anomaly/1.png', 'sa1')
      .add('s3://bucket/lookout/README.txt', 'read me');
    const summary = await importer.importFolder(folderPayload('s3://bucket/lookout'), progress());
    expect(summary).toMatchObject({ layout: 'lookout', entriesCreated: 5, imagesStored: 5, masks: 0, failures: [] });
    expect(summary.byDataset).toEqual([
      { type: 'train', normal: 2, anomaly: 1, unlabelled: 0 },
      { type: 'test', normal: 1, anomaly: 1, unlabelled: 0 },
    ]);
    expect(summary.warnings).toEqual([
      { item: 'README.txt', message: expect.stringMatching(/^ignored: not-an-image/) },
    ]);
    expect((await entriesOf(DatasetType.Train)).map((e) => e.sourceRef)).toContain(
      's3://bucket/lookout/Train/Anomaly/1.png',
    );
  });

  it('imports the MVTec layout with masks named after the defect', async () => {
    sources
      .add('s3://bucket/mvtec/bottle/train/good/000.png', 'good train')
      .add('s3://bucket/mvtec/bottle/test/good/000.png', 'good test')
      .add('s3://bucket/mvtec/bottle/test/broken_large/000.png', 'large break image')
      .add('s3://bucket/mvtec/bottle/ground_truth/broken_large/000_mask.png', 'mask bytes');
    const summary = await importer.importFolder(folderPayload('s3://bucket/mvtec'), progress());
    expect(summary).toMatchObject({ layout: 'mvtec', entriesCreated: 3, masks: 1, failures: [] });
    const [anomaly] = (await entriesOf(DatasetType.Test)).filter((e) => e.label === 'anomaly');
    expect(anomaly?.mask).toEqual({
      objectKey: contentKey(sha('mask bytes')),
      classes: [{ name: 'broken_large', color: '#FFFFFF' }],
    });
    expect((await entriesOf(DatasetType.Train)).map((e) => e.label)).toEqual(['normal']);
  });

  it('imports a plain folder unlabelled, or labelled from file names or the given label', async () => {
    sources
      .add('s3://bucket/plain/cookie-1.png', 'c1')
      .add('s3://bucket/plain/normal-2.png', 'c2')
      .add('s3://bucket/plain/defect-3.png', 'c3');
    const unlabelled = await importer.importFolder(folderPayload('s3://bucket/plain'), progress());
    expect(unlabelled.byDataset).toEqual([{ type: 'train', normal: 0, anomaly: 0, unlabelled: 3 }]);

    const named = await importer.importFolder(
      folderPayload('s3://bucket/plain', { labelFromFileName: true, label: 'anomaly', datasetType: DatasetType.Test }),
      progress(),
    );
    expect(named.layout).toBe('plain');
    expect(named.byDataset).toEqual([{ type: 'test', normal: 1, anomaly: 2, unlabelled: 0 }]);
    const labels = Object.fromEntries((await entriesOf(DatasetType.Test)).map((e) => [e.sourceRef, e.label]));
    expect(labels).toEqual({
      's3://bucket/plain/cookie-1.png': 'anomaly',
      's3://bucket/plain/normal-2.png': 'normal',
      's3://bucket/plain/defect-3.png': 'anomaly',
    });
  });

  it('keeps the good images and reports each failure', async () => {
    sources
      .add('s3://bucket/mixed/a.png', 'fine a')
      .add('s3://bucket/mixed/b.png', 'broken b')
      .add('s3://bucket/mixed/c.png', 'x'.repeat(LIMITS.maxImageBytes + 1))
      .add('s3://bucket/mixed/d.png', 'fine d');
    const summary = await importer.importFolder(folderPayload('s3://bucket/mixed'), progress());
    expect(summary.entriesCreated).toBe(2);
    expect(summary.failures).toEqual([
      { item: 'b.png', code: ErrorCode.InvalidImage, message: 'not an image' },
      { item: 'c.png', code: ErrorCode.PayloadTooLarge, message: 'too large' },
    ]);
  });

  it('refuses a folder where nothing could be imported, or with no images at all', async () => {
    sources.add('s3://bucket/bad/a.png', 'broken').add('s3://bucket/txt/notes.txt', 'text');
    const allBad = await rejection(importer.importFolder(folderPayload('s3://bucket/bad'), progress()));
    expect(allBad).toMatchObject({
      code: ErrorCode.BadUserInput,
      message: expect.stringMatching(/none of the 1 images/),
    });
    const none = await rejection(importer.importFolder(folderPayload('s3://bucket/txt'), progress()));
    expect(none).toMatchObject({ code: ErrorCode.BadUserInput, message: expect.stringMatching(/no images found/) });
    expect(await datasets.ofProject(project.id)).toEqual([]);
  });

  it('refuses local folders when they are not allowed', async () => {
    expect((await rejection(importer.importFolder(folderPayload('/srv/images'), progress()))).code).toBe(
      ErrorCode.Forbidden,
    );
  });
});

describe('labelFromFileName', () => {
  it.each([
    ['a/b/test-anomaly-3.jpg', 'anomaly'],
    ['NG_12.png', 'anomaly'],
    ['defective.tif', 'anomaly'],
    ['good.png', 'normal'],
    ['img_ok_7.bmp', 'normal'],
    ['normal-1.jpg', 'normal'],
    ['cookie-1.jpg', null],
    ['goodness.png', null],
    ['normal-vs-anomaly.png', null],
    ['folder-anomaly/plain.png', null],
  ])('%s -> %s', (name, label) => {
    expect(labelFromFileName(name)).toBe(label);
  });
});
