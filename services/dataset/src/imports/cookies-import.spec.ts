import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DatasetType, Role, errors } from '@vigil/contracts';
import type { DatabaseHandle } from '@vigil/db';
import { ImageCatalog, KyselyImageRepository, probeImage } from '@vigil/images';
import { KyselyAuditTrail } from '@vigil/service-kit';
import { SourceReader, putContentAddressed } from '@vigil/storage';
import { InMemoryObjectStore, openMigratedTestDatabase } from '@vigil/images/src/testing';
import { DatasetService } from '../domain/datasets';
import { ProjectService, type Transactor } from '../domain/projects';
import { KyselyDatasetRepository } from '../repositories/datasets';
import { KyselyEntryRepository } from '../repositories/entries';
import { KyselyProjectRepository } from '../repositories/projects';
import { DatasetImporter } from './importer';
import type { ImageIntake, MaskIntake } from './ports';

/** The real sample set shipped beside the repo (shared/datasets/cookies); absent on some machines. */
const COOKIES = path.resolve(__dirname, '../../../../../shared/datasets/cookies');
const MANIFEST = path.join(COOKIES, 'template.manifest');
const present = existsSync(MANIFEST);

if (!present) console.warn(`skipping the cookies manifest import: ${MANIFEST} is not present on this machine`);

const actor = { principal: { id: 'key-1', name: 'alice', role: Role.Admin } };

(present ? describe : describe.skip)('real data: importing the cookies template.manifest', () => {
  let handle: DatabaseHandle;
  let store: InMemoryObjectStore;
  let projects: ProjectService;
  let datasets: DatasetService;
  let importer: DatasetImporter;

  beforeAll(async () => {
    handle = await openMigratedTestDatabase();
    const db = handle.db;
    store = new InMemoryObjectStore();
    const catalog = new ImageCatalog({ images: new KyselyImageRepository(db), store });
    const tx: Transactor = { transaction: (work) => db.transaction().execute(work) };
    const audit = new KyselyAuditTrail(db);
    projects = new ProjectService(new KyselyProjectRepository(db), audit, tx);
    datasets = new DatasetService(
      projects,
      new KyselyDatasetRepository(db),
      new KyselyEntryRepository(db),
      {
        missing: async (ids) => {
          const found = await catalog.getMany(ids);
          return ids.filter((_, i) => found[i] === null);
        },
      },
      audit,
      tx,
    );
    // The same adapters the service wires in module.ts.
    const images: ImageIntake = {
      ingest: async ({ bytes, originalName, actor: who }) => {
        const result = await catalog.ingest({ bytes, originalName: originalName ?? null, actor: who });
        return { imageId: result.image.id, deduplicated: result.deduplicated };
      },
    };
    const masks: MaskIntake = {
      store: async (bytes) => {
        if ((await probeImage(bytes)).format !== 'png') throw errors.invalidImage('a mask must be a PNG');
        return { objectKey: (await putContentAddressed(store, bytes, { contentType: 'image/png' })).objectKey };
      },
    };
    const sources = new SourceReader({ allowedRoots: [COOKIES], objectStore: store });
    importer = new DatasetImporter(projects, datasets, images, masks, sources, {
      maxImageBytes: 20 * 1024 * 1024,
      maxManifestBytes: 1024 * 1024,
      allowLocalFiles: true,
    });
  });
  afterAll(() => handle?.close());

  it('imports 31 normal and 32 anomaly images with 32 masks', async () => {
    const project = await projects.create({ name: 'cookies' }, actor);
    const summary = await importer.importManifest(
      { projectId: project.id, datasetType: DatasetType.Train, manifestUri: MANIFEST, allowPartial: false, actor },
      { signal: new AbortController().signal, progress: () => undefined },
    );
    expect(summary).toMatchObject({
      entriesCreated: 63,
      entriesUpdated: 0,
      imagesStored: 63,
      imagesDeduplicated: 0,
      masks: 32,
      byDataset: [{ type: 'train', normal: 31, anomaly: 32, unlabelled: 0 }],
      failures: [],
    });
    const train = await datasets.require(project.id, DatasetType.Train);
    expect(await datasets.stats(train.id)).toEqual({ total: 63, normal: 31, anomaly: 32, unlabelled: 0, withMask: 32 });
    const masked = (await datasets.allEntries(train.id)).filter((e) => e.mask);
    expect(masked.every((e) => e.label === 'anomaly')).toBe(true);
    expect(masked[0]?.mask?.classes).toEqual([{ name: 'cracked', color: '#23A436' }]);
    // 63 photos and 32 masks, each stored once.
    expect(store.objects.size).toBe(95);
  });
});
