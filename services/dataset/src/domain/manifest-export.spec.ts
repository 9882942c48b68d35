import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DatasetType, EntryLabel, ErrorCode, Role } from '@vigil/contracts';
import type { DatabaseHandle } from '@vigil/db';
import { contentKey } from '@vigil/storage';
import { KyselyAuditTrail } from '@vigil/service-kit';
import { openMigratedTestDatabase } from '@vigil/images/src/testing';
import { parseManifest, resolveManifestRefs } from '../manifest';
import { KyselyDatasetRepository } from '../repositories/datasets';
import { KyselyEntryRepository } from '../repositories/entries';
import { KyselyProjectRepository } from '../repositories/projects';
import { DatasetService, type DatasetEntry } from './datasets';
import { ManifestExporter, toSerializable } from './manifest-export';
import { ProjectService, type Actor, type Transactor } from './projects';

const actor: Actor = { principal: { id: 'k', name: 'alice', role: Role.Admin } };
const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const CRACK = { name: 'crack', color: '#23A436' };

let handle: DatabaseHandle;
let datasets: DatasetService;
let projects: ProjectService;
const creationDate = new Date('2024-05-01T12:00:00.000Z');

beforeAll(async () => {
  handle = await openMigratedTestDatabase();
  const db = handle.db;
  const tx: Transactor = { transaction: (work) => db.transaction().execute(work) };
  const audit = new KyselyAuditTrail(db);
  projects = new ProjectService(new KyselyProjectRepository(db), audit, tx);
  datasets = new DatasetService(
    projects,
    new KyselyDatasetRepository(db),
    new KyselyEntryRepository(db),
    { missing: async () => [] },
    audit,
    tx,
  );
  await db
    .insertInto('images')
    .values(
      ['normal', 'cracked', 'unsure', 'bare-anomaly'].map((name) => ({
        id: sha(name),
        format: 'png',
        width: 4,
        height: 4,
        channels: 3,
        bit_depth: 8,
        byte_size: 100,
        tags: '[]',
        created_by: 't',
      })),
    )
    .execute();
});
afterAll(() => handle.close());

describe('ManifestExporter', () => {
  it('exports labelled entries as a manifest that parses back to the same labels and masks', async () => {
    const project = await projects.create({ name: 'export' }, actor);
    const train = await datasets.create(project.id, DatasetType.Train, actor);
    await datasets.addEntries(
      train.id,
      [
        { imageId: sha('normal'), label: EntryLabel.Normal, maskKey: null, maskClasses: [], sourceRef: 'a.png' },
        {
          imageId: sha('cracked'),
          label: EntryLabel.Anomaly,
          maskKey: contentKey(sha('mask')),
          maskClasses: [CRACK],
          sourceRef: 'b.png',
        },
        { imageId: sha('unsure'), label: EntryLabel.Unlabelled, maskKey: null, maskClasses: [], sourceRef: null },
        { imageId: sha('bare-anomaly'), label: EntryLabel.Anomaly, maskKey: null, maskClasses: [], sourceRef: null },
      ],
      actor,
    );

    const exported = await new ManifestExporter(datasets, () => creationDate).export(train.id);
    expect(exported.lines).toBe(3);
    expect(exported.skippedUnlabelled).toBe(1);
    expect(exported.manifest).toContain('vigil-export-train');
    expect(exported.manifest).toContain(creationDate.toISOString());

    const parsed = parseManifest(exported.manifest);
    expect(parsed.warnings).toEqual([]);
    const byRef = new Map(parsed.entries.map((e) => [e.sourceRef, e]));
    expect(byRef.get(`vigil://objects/${sha('normal')}`)).toMatchObject({ label: 'normal' });
    expect(byRef.get(`vigil://objects/${sha('normal')}`)?.mask).toBeUndefined();
    expect(byRef.get(`vigil://objects/${sha('cracked')}`)).toMatchObject({
      label: 'anomaly',
      mask: { ref: `vigil://objects/${sha('mask')}`, classes: [CRACK] },
    });
    expect(byRef.get(`vigil://objects/${sha('bare-anomaly')}`)).toMatchObject({ label: 'anomaly' });
    expect(byRef.has(`vigil://objects/${sha('unsure')}`)).toBe(false);

    // The refs resolve to the objects the entries name, so the manifest re-imports into another project.
    const resolved = resolveManifestRefs(parsed.entries, 'inline.manifest');
    expect(resolved.map((r) => r.source)).toContainEqual({ kind: 'object', key: sha('cracked') });
    expect(resolved.find((r) => r.maskSource)?.maskSource).toEqual({ kind: 'object', key: sha('mask') });
  });

  it('exports an empty manifest for a dataset with nothing labelled', async () => {
    const project = await projects.create({ name: 'empty-export' }, actor);
    const test = await datasets.create(project.id, DatasetType.Test, actor);
    expect(await new ManifestExporter(datasets).export(test.id)).toEqual({
      manifest: '',
      lines: 0,
      skippedUnlabelled: 0,
    });
  });

  it('answers NOT_FOUND for an unknown dataset', async () => {
    await expect(new ManifestExporter(datasets).export('nope')).rejects.toMatchObject({ code: ErrorCode.NotFound });
  });
});

describe('toSerializable', () => {
  const base: DatasetEntry = {
    id: 'e',
    datasetId: 'd',
    imageId: sha('x'),
    label: 'anomaly',
    mask: null,
    sourceRef: null,
    createdAt: new Date(0),
    updatedAt: new Date(0),
  };

  it('drops a mask without defect classes rather than writing an unparseable line', () => {
    expect(toSerializable({ ...base, mask: { objectKey: contentKey(sha('m')), classes: [] } })).toEqual({
      sourceRef: `vigil://objects/${sha('x')}`,
      label: 'anomaly',
    });
  });

  it('skips unlabelled entries', () => {
    expect(toSerializable({ ...base, label: 'unlabelled' })).toBeNull();
  });
});
