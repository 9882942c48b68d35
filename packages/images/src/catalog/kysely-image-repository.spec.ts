import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DatabaseHandle } from '@vigil/db';
import { openMigratedTestDatabase } from '../testing/database';
import { describeImageRepositoryContract, fakeImage, fakeImageId } from '../testing/image-repository-contract';
import { KyselyImageRepository } from './kysely-image-repository';

let handle: DatabaseHandle;

beforeAll(async () => {
  handle = await openMigratedTestDatabase();
});
afterAll(() => handle.close());

describeImageRepositoryContract('KyselyImageRepository on PGlite', async () => {
  await handle.db.deleteFrom('images').execute();
  return new KyselyImageRepository(handle.db);
});

describe('KyselyImageRepository specifics', () => {
  it('appends tags atomically under concurrent merges', async () => {
    await handle.db.deleteFrom('images').execute();
    const repo = new KyselyImageRepository(handle.db);
    await repo.insertIfAbsent(fakeImage(1, { tags: ['base'] }));
    await Promise.all(
      ['a', 'b', 'c', 'd', 'e'].map((tag) => repo.mergeMetadata(fakeImageId(1), { tags: [tag, 'base'] })),
    );
    const record = await repo.findById(fakeImageId(1));
    expect([...record!.tags].sort()).toEqual(['a', 'b', 'base', 'c', 'd', 'e']);
  });
});
