import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DatasetType, EntryLabel, ErrorCode, Role } from '@vigil/contracts';
import type { DatabaseHandle } from '@vigil/db';
import { KyselyAuditTrail } from '@vigil/service-kit';
import { openMigratedTestDatabase } from '@vigil/images/src/testing';
import { KyselyDatasetRepository } from '../repositories/datasets';
import { KyselyEntryRepository, type NewEntry } from '../repositories/entries';
import { KyselyProjectRepository } from '../repositories/projects';
import { DatasetService, stratifiedSample, type ImageLookup } from './datasets';
import { ProjectService, type Actor, type Project, type Transactor } from './projects';

const actor: Actor = { principal: { id: 'key-1', name: 'alice', role: Role.Operator } };
const UNKNOWN_UUID = '00000000-0000-4000-8000-000000000000';

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string; details?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

const imageId = (n: number) => createHash('sha256').update(`image-${n}`).digest('hex');

const entry = (n: number, label: EntryLabel = EntryLabel.Normal, extra: Partial<NewEntry> = {}): NewEntry => ({
  imageId: imageId(n),
  label,
  maskKey: null,
  maskClasses: [],
  sourceRef: `s3://bucket/${n}.png`,
  ...extra,
});

let handle: DatabaseHandle;
let projects: ProjectService;
let datasets: DatasetService;
let project: Project;

async function insertImages(from: number, to: number): Promise<void> {
  const rows = [];
  for (let n = from; n <= to; n++) {
    rows.push({
      id: imageId(n),
      format: 'png',
      width: 8,
      height: 8,
      channels: 1,
      bit_depth: 8,
      byte_size: 10,
      tags: '[]',
      created_by: 'test',
    });
  }
  await handle.db
    .insertInto('images')
    .values(rows)
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

function auditFor(entityId: string) {
  return handle.db.selectFrom('audit_log').selectAll().where('entity_id', '=', entityId).orderBy('id').execute();
}

beforeAll(async () => {
  handle = await openMigratedTestDatabase();
  const db = handle.db;
  const tx: Transactor = { transaction: (work) => db.transaction().execute(work) };
  const audit = new KyselyAuditTrail(db);
  const lookup: ImageLookup = {
    missing: async (ids) => {
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
  projects = new ProjectService(new KyselyProjectRepository(db), audit, tx);
  datasets = new DatasetService(
    projects,
    new KyselyDatasetRepository(db),
    new KyselyEntryRepository(db),
    lookup,
    audit,
    tx,
  );
  await insertImages(1, 40);
});
afterAll(() => handle.close());
beforeEach(async () => {
  await handle.db.deleteFrom('projects').execute();
  project = await projects.create({ name: 'cookies' }, actor);
});

describe('DatasetService create / ensure / get', () => {
  it('creates a dataset once; a second create is CONFLICT while ensure returns the same one', async () => {
    const train = await datasets.create(project.id, DatasetType.Train, actor);
    expect(train).toMatchObject({ projectId: project.id, type: 'train' });
    expect((await rejection(datasets.create(project.id, DatasetType.Train, actor))).code).toBe(ErrorCode.Conflict);
    expect(await datasets.ensure(project.id, DatasetType.Train, actor)).toEqual(train);
    expect(await datasets.get(train.id)).toEqual(train);
    // One audit row: for the creation, none for the conflict or the idempotent ensure.
    expect((await auditFor(train.id)).map((a) => a.action)).toEqual(['dataset.create']);
  });

  it('ensure creates (and audits) a dataset that does not exist yet', async () => {
    const test = await datasets.ensure(project.id, DatasetType.Test, actor);
    expect(test.type).toBe('test');
    expect((await auditFor(test.id)).map((a) => a.action)).toEqual(['dataset.create']);
    expect((await datasets.ofProject(project.id)).map((d) => d.type)).toEqual(['test']);
  });

  it('lists a project datasets train first', async () => {
    await datasets.ensure(project.id, DatasetType.Test, actor);
    await datasets.ensure(project.id, DatasetType.Train, actor);
    expect((await datasets.ofProject(project.id)).map((d) => d.type)).toEqual(['train', 'test']);
  });

  it.each([
    ['an unknown uuid', UNKNOWN_UUID],
    ['a non-uuid id', 'nope'],
  ])('answers NOT_FOUND for %s', async (_what, id) => {
    expect((await rejection(datasets.get(id))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(datasets.delete(id, actor))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(datasets.getEntry(id))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(datasets.addEntries(id, [entry(1)], actor))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(datasets.create(id, DatasetType.Train, actor))).code).toBe(ErrorCode.NotFound);
    expect((await rejection(datasets.require(project.id, DatasetType.Test))).code).toBe(ErrorCode.NotFound);
  });

  it('deletes a dataset with its entries, recording the stats it had', async () => {
    const train = await datasets.create(project.id, DatasetType.Train, actor);
    await datasets.addEntries(train.id, [entry(1), entry(2, EntryLabel.Anomaly)], actor);
    await datasets.delete(train.id, actor);
    expect(await datasets.find(project.id, DatasetType.Train)).toBeNull();
    expect(await handle.db.selectFrom('dataset_entries').selectAll().execute()).toEqual([]);
    const deleted = (await auditFor(train.id)).at(-1);
    expect(deleted?.action).toBe('dataset.delete');
    expect(deleted?.before).toMatchObject({ stats: { total: 2, normal: 1, anomaly: 1 } });
  });
});

describe('DatasetService.addEntries', () => {
  it('counts created and updated entries, and updates label, mask and source of an image already present', async () => {
    const train = await datasets.create(project.id, DatasetType.Train, actor);
    const first = await datasets.addEntries(train.id, [entry(1), entry(2), entry(3)], actor);
    expect([first.created, first.updated]).toEqual([3, 0]);
    const mask = { maskKey: 'masks/abc', maskClasses: [{ name: 'crack', color: '#FF0000' }], sourceRef: 'new' };
    const second = await datasets.addEntries(train.id, [entry(3, EntryLabel.Anomaly, mask), entry(4)], actor);
    expect([second.created, second.updated]).toEqual([1, 1]);
    const updated = second.entries.find((e) => e.imageId === imageId(3));
    expect(updated).toMatchObject({
      label: 'anomaly',
      sourceRef: 'new',
      mask: { objectKey: 'masks/abc', classes: [{ name: 'crack', color: '#FF0000' }] },
    });
    expect(await datasets.stats(train.id)).toEqual({ total: 4, normal: 3, anomaly: 1, unlabelled: 0, withMask: 1 });
    const audit = (await auditFor(train.id)).filter((a) => a.action === 'dataset.entries.upsert');
    expect(audit.map((a) => a.after)).toMatchObject([
      { created: 3, updated: 0 },
      { created: 1, updated: 1 },
    ]);
  });

  it('takes the last of two entries for the same image in one call', async () => {
    const train = await datasets.create(project.id, DatasetType.Train, actor);
    const result = await datasets.addEntries(train.id, [entry(5), entry(5, EntryLabel.Anomaly)], actor);
    expect([result.created, result.updated]).toEqual([1, 0]);
    expect(result.entries.map((e) => e.label)).toEqual(['anomaly']);
  });

  it('refuses images missing from the catalogue with NOT_FOUND and writes nothing', async () => {
    const train = await datasets.create(project.id, DatasetType.Train, actor);
    const error = await rejection(datasets.addEntries(train.id, [entry(1), entry(999)], actor));
    expect(error.code).toBe(ErrorCode.NotFound);
    expect(error.message).toContain(imageId(999));
    expect((await datasets.stats(train.id)).total).toBe(0);
  });

  it('returns zero counts for no entries and refuses more than the per-call limit', async () => {
    const train = await datasets.create(project.id, DatasetType.Train, actor);
    expect(await datasets.addEntries(train.id, [], actor)).toEqual({ created: 0, updated: 0, entries: [] });
    const tooMany = Array.from({ length: 10_001 }, () => entry(1));
    expect((await rejection(datasets.addEntries(train.id, tooMany, actor))).code).toBe(ErrorCode.BadUserInput);
  });
});

describe('DatasetService.relabel and removeEntries', () => {
  it('relabels entries with one audit row each holding before and after', async () => {
    const train = await datasets.create(project.id, DatasetType.Train, actor);
    const { entries } = await datasets.addEntries(train.id, [entry(1), entry(2, EntryLabel.Unlabelled)], actor);
    const ids = entries.map((e) => e.id);
    const relabelled = await datasets.relabel(ids, EntryLabel.Anomaly, actor);
    expect(relabelled.map((e) => e.label)).toEqual(['anomaly', 'anomaly']);
    for (const e of entries) {
      const audit = await auditFor(e.id);
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({
        action: 'dataset.entry.relabel',
        entity_type: 'datasetEntry',
        before: { label: e.label },
        after: { label: 'anomaly' },
      });
    }
  });

  it.each([
    ['an unknown uuid', UNKNOWN_UUID],
    ['a non-uuid id', 'x'],
  ])('refuses the whole relabel or removal when one id is %s', async (_what, bad) => {
    const train = await datasets.create(project.id, DatasetType.Train, actor);
    const { entries } = await datasets.addEntries(train.id, [entry(1)], actor);
    const ids = [entries[0]!.id, bad];
    expect(await rejection(datasets.relabel(ids, EntryLabel.Anomaly, actor))).toMatchObject({
      code: ErrorCode.NotFound,
    });
    expect(await rejection(datasets.removeEntries(ids, actor))).toMatchObject({ code: ErrorCode.NotFound });
    expect(await datasets.getEntry(entries[0]!.id)).toMatchObject({ label: 'normal' });
  });

  it('removes entries, auditing what each was', async () => {
    const train = await datasets.create(project.id, DatasetType.Train, actor);
    const { entries } = await datasets.addEntries(train.id, [entry(1), entry(2), entry(3)], actor);
    expect(await datasets.removeEntries([entries[0]!.id, entries[1]!.id], actor)).toBe(2);
    expect((await datasets.allEntries(train.id)).map((e) => e.imageId)).toEqual([imageId(3)]);
    const audit = await auditFor(entries[0]!.id);
    expect(audit[0]).toMatchObject({ action: 'dataset.entry.remove', before: { imageId: imageId(1) } });
    expect(await datasets.removeEntries([], actor)).toBe(0);
    expect(await datasets.relabel([], EntryLabel.Normal, actor)).toEqual([]);
  });
});

describe('DatasetService.split', () => {
  async function trainWith(normal: number, anomaly: number, unlabelled = 0) {
    const train = await datasets.create(project.id, DatasetType.Train, actor);
    const list: NewEntry[] = [];
    let n = 1;
    for (let i = 0; i < normal; i++) list.push(entry(n++, EntryLabel.Normal));
    for (let i = 0; i < anomaly; i++) list.push(entry(n++, EntryLabel.Anomaly));
    for (let i = 0; i < unlabelled; i++) list.push(entry(n++, EntryLabel.Unlabelled));
    await datasets.addEntries(train.id, list, actor);
    return train;
  }

  it('moves a stratified fraction of each label to the test dataset', async () => {
    const train = await trainWith(20, 10, 1);
    const result = await datasets.split(project.id, { testFraction: 0.2, seed: 7 }, actor);
    expect(result.moved).toBe(6);
    expect(result.test).toMatchObject({ total: 6, normal: 4, anomaly: 2, unlabelled: 0 });
    expect(result.train).toMatchObject({ total: 25, normal: 16, anomaly: 8, unlabelled: 1 });
    const audit = (await auditFor(project.id)).find((a) => a.action === 'dataset.split');
    expect(audit?.after).toMatchObject({ from: train.id, testFraction: 0.2, seed: 7 });
  });

  it('is reproducible from its seed', async () => {
    const train = await trainWith(12, 6);
    const chosen = async () => {
      const test = await datasets.require(project.id, DatasetType.Test);
      return (await datasets.allEntries(test.id)).map((e) => e.id).sort();
    };
    await datasets.split(project.id, { testFraction: 0.3, seed: 42 }, actor);
    const first = await chosen();
    expect(first).toHaveLength(6);
    // Put everything back and split again with the same seed.
    await handle.db.updateTable('dataset_entries').set({ dataset_id: train.id }).execute();
    await datasets.split(project.id, { testFraction: 0.3, seed: 42 }, actor);
    expect(await chosen()).toEqual(first);
    await handle.db.updateTable('dataset_entries').set({ dataset_id: train.id }).execute();
    await datasets.split(project.id, { testFraction: 0.3, seed: 43 }, actor);
    expect(await chosen()).not.toEqual(first);
  });

  it('refuses to split into a non-empty test dataset', async () => {
    await trainWith(6, 4);
    await datasets.split(project.id, { testFraction: 0.5, seed: 1 }, actor);
    const error = await rejection(datasets.split(project.id, { testFraction: 0.5, seed: 1 }, actor));
    expect(error.code).toBe(ErrorCode.Conflict);
  });

  it('splits into an existing empty test dataset', async () => {
    await trainWith(4, 2);
    const test = await datasets.create(project.id, DatasetType.Test, actor);
    const result = await datasets.split(project.id, { testFraction: 0.5, seed: 3 }, actor);
    expect(result.test.total).toBe(3);
    expect((await datasets.require(project.id, DatasetType.Test)).id).toBe(test.id);
  });

  it.each([0, 1, -0.1, 1.5, Number.NaN])('refuses testFraction %p', async (testFraction) => {
    await trainWith(4, 4);
    expect((await rejection(datasets.split(project.id, { testFraction, seed: 1 }, actor))).code).toBe(
      ErrorCode.BadUserInput,
    );
  });

  it('refuses a train dataset too small to split, and a project without one', async () => {
    expect((await rejection(datasets.split(project.id, { testFraction: 0.5, seed: 1 }, actor))).code).toBe(
      ErrorCode.NotFound,
    );
    await trainWith(1, 1);
    expect((await rejection(datasets.split(project.id, { testFraction: 0.5, seed: 1 }, actor))).code).toBe(
      ErrorCode.BadUserInput,
    );
    expect(await datasets.find(project.id, DatasetType.Test)).toBeNull();
  });
});

describe('stratifiedSample', () => {
  const items = Array.from({ length: 30 }, (_, i) => ({
    id: `id-${String(i).padStart(2, '0')}`,
    label: i < 20 ? 'normal' : 'anomaly',
  }));

  it('is a pure function of items and seed, whatever their order', () => {
    const a = stratifiedSample(items, 0.25, 9).map((i) => i.id);
    const b = stratifiedSample([...items].reverse(), 0.25, 9).map((i) => i.id);
    expect(a).toEqual(b);
    expect(stratifiedSample(items, 0.25, 10).map((i) => i.id)).not.toEqual(a);
  });

  it('takes round(n * fraction) of each label, at least one, never all', () => {
    const chosen = stratifiedSample(items, 0.25, 1);
    expect(chosen.filter((i) => i.label === 'normal')).toHaveLength(5);
    expect(chosen.filter((i) => i.label === 'anomaly')).toHaveLength(3);
    const tiny = [
      { id: 'a', label: 'x' },
      { id: 'b', label: 'x' },
      { id: 'c', label: 'y' },
    ];
    expect(stratifiedSample(tiny, 0.01, 1)).toHaveLength(1);
    expect(stratifiedSample(tiny, 0.99, 1)).toHaveLength(1);
  });
});
