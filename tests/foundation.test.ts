/**
 * The foundation walkthrough through the public API only (GraphQL + REST on the gateway), in the embedded
 * mode (PGlite, local disk, in-process jobs) and, when VIGIL_TEST_DATABASE_URL is set, against a real Postgres.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { syntheticImage, truncatedJpeg } from '@vigil/images/src/testing';
import { createTestDatabase, type TestDatabase } from '@vigil/queue/testing';
import { cookiesDir, skipMessage, testDatabaseUrl } from './support/environment';
import { TestPlatform } from './support/platform';

const JOB =
  'id status progress { done total percent } error { code message } summary { layout entriesCreated entriesUpdated imagesStored imagesDeduplicated masks byDataset { type normal anomaly unlabelled } warnings { line message } failures { line item code message } }';

interface Job {
  status: string;
  error: { code: string; message: string } | null;
  summary: {
    layout: string | null;
    entriesCreated: number;
    imagesStored: number;
    imagesDeduplicated: number;
    masks: number;
    byDataset: { type: string; normal: number; anomaly: number; unlabelled: number }[];
    warnings: { line: number | null; message: string }[];
    failures: { item: string; code: string; message: string }[];
  } | null;
}

interface Stats {
  total: number;
  normal: number;
  anomaly: number;
  unlabelled: number;
  withMask: number;
}

async function writeLookoutFolder(root: string): Promise<void> {
  const layout: Record<string, { defect: boolean; count: number }> = {
    'Train/Normal': { defect: false, count: 4 },
    'Train/Anomaly': { defect: true, count: 2 },
    'test/normal': { defect: false, count: 2 },
    'TEST/ANOMALY': { defect: true, count: 2 },
  };
  let seed = 1;
  for (const [folder, spec] of Object.entries(layout)) {
    await mkdir(path.join(root, folder), { recursive: true });
    for (let i = 0; i < spec.count; i++) {
      const format = seed % 3 === 0 ? 'bmp' : 'png';
      // A BMP named .png, as real data sets ship them: the format comes from the bytes.
      await writeFile(
        path.join(root, folder, `img-${i}.png`),
        await syntheticImage({ format, width: 48, height: 40, seed: seed++, defect: spec.defect }),
      );
    }
  }
  await writeFile(path.join(root, 'Train', 'notes.txt'), 'not an image');
  await writeFile(path.join(root, 'Train/Normal', 'broken.png'), await truncatedJpeg({ width: 64, height: 64 }));
}

const modes: { name: string; skip: string | null }[] = [
  { name: 'embedded (PGlite, local disk, in-process jobs)', skip: null },
  { name: 'Postgres server', skip: testDatabaseUrl ? null : 'VIGIL_TEST_DATABASE_URL is not set' },
];

describe.each(modes)('foundation walkthrough: $name', ({ name, skip }) => {
  let vigil: TestPlatform;
  let database: TestDatabase | null = null;
  let work: string;

  beforeAll(async () => {
    if (skip) return;
    work = await mkdtemp(path.join(os.tmpdir(), 'vigil-foundation-'));
    const env: Record<string, string> = {};
    if (name.startsWith('Postgres') && testDatabaseUrl) {
      database = await createTestDatabase(testDatabaseUrl, 'vigil_foundation');
      const url = new URL(testDatabaseUrl);
      url.pathname = `/${database.name}`;
      env['DATABASE_URL'] = url.toString();
    }
    vigil = await TestPlatform.start(env);
  });

  afterAll(async () => {
    if (skip) return;
    await vigil?.stop();
    await database?.drop();
    await rm(work, { recursive: true, force: true });
  });

  const test = skip ? it.skip : it;
  if (skip) it.skip(skipMessage(name, skip), () => undefined);

  test('rejects calls without a valid API key', async () => {
    const none = await vigil.graphql('{ projects { nodes { id } } }', {}, null);
    expect(none.status).toBe(401);
    expect(none.error?.code).toBe('UNAUTHENTICATED');
    const forged = await vigil.graphql('{ projects { nodes { id } } }', {}, 'vgl_AAAAAAAAAAAA_' + 'x'.repeat(43));
    expect(forged.status).toBe(401);
    const health = await fetch(`${vigil.url}/healthz`);
    expect(health.status).toBe(200);
  });

  test('creates a project, refuses a duplicate and answers NOT_FOUND for unknown ones', async () => {
    const created = await vigil.ok<{ createProject: { id: string; name: string } }>(
      'mutation { createProject(input: { name: "vials-line-1", description: "fill level" }) { id name } }',
    );
    expect(created.createProject.name).toBe('vials-line-1');
    const duplicate = await vigil.graphql('mutation { createProject(input: { name: "vials-line-1" }) { id } }');
    expect(duplicate.errors?.[0]?.extensions?.code).toBe('CONFLICT');
    const bad = await vigil.graphql('mutation { createProject(input: { name: "no spaces allowed" }) { id } }');
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    for (const query of [
      '{ project(name: "nope") { id } }',
      '{ project(id: "not-a-uuid") { id } }',
      '{ dataset(id: "00000000-0000-0000-0000-000000000000") { id } }',
      '{ image(id: "abc") { id } }',
    ]) {
      const missing = await vigil.graphql(query);
      expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    const invalid = await vigil.graphql('{ projects { nodes { nonsense } } }');
    expect(invalid.status).toBe(400);
    expect(invalid.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  test('enforces roles: a viewer reads but cannot change', async () => {
    const key = await vigil.ok<{ createApiKey: { secret: string } }>(
      'mutation { createApiKey(name: "dashboard", role: VIEWER) { secret } }',
    );
    const viewer = key.createApiKey.secret;
    const read = await vigil.graphql<{ viewer: { role: string } }>('{ viewer { role } }', {}, viewer);
    expect(read.data?.viewer.role).toBe('VIEWER');
    const write = await vigil.graphql('mutation { createProject(input: { name: "by-viewer" }) { id } }', {}, viewer);
    expect(write.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const keys = await vigil.graphql('{ apiKeys { id } }', {}, viewer);
    expect(keys.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  test('uploads an image with metadata, stores identical bytes once, and serves them back', async () => {
    const bytes = await syntheticImage({ format: 'png', width: 32, height: 24, seed: 99 });
    const upload = (query: string, body: Buffer) =>
      fetch(`${vigil.url}/v1/images?${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${vigil.adminKey}`, 'content-type': 'image/png' },
        body,
      });
    const first = await upload('line=L1&station=S3&camera=C2&lot=LOT-7&tags=a,b&name=part.png', bytes);
    expect(first.status).toBe(201);
    const body = (await first.json()) as {
      image: { id: string; width: number; lot: string; contentPath: string };
      deduplicated: boolean;
    };
    expect(body.image).toMatchObject({ width: 32, lot: 'LOT-7' });
    const again = await upload('lot=LOT-8', bytes);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { deduplicated: boolean }).deduplicated).toBe(true);
    const content = await fetch(`${vigil.url}${body.image.contentPath}`, {
      headers: { authorization: `Bearer ${vigil.adminKey}` },
    });
    expect(Buffer.from(await content.arrayBuffer()).equals(bytes)).toBe(true);
    const listed = await vigil.ok<{ images: { nodes: { id: string; tags: string[] }[] } }>(
      '{ images(filter: { lot: "LOT-7" }) { nodes { id tags } } }',
    );
    expect(listed.images.nodes.map((n) => n.id)).toEqual([body.image.id]);

    const notImage = await upload('', Buffer.from('hello, not an image'));
    expect(notImage.status).toBe(415);
    const empty = await upload('', Buffer.alloc(0));
    expect(empty.status).toBe(400);
  });

  test('imports a Lookout-layout folder: labels from the layout, bad files reported, good ones kept', async () => {
    const folder = path.join(work, 'lookout');
    await writeLookoutFolder(folder);
    const submitted = await vigil.ok<{ importFolder: { id: string } }>(
      'mutation($source: String!) { importFolder(input: { project: { name: "vials-line-1" }, source: $source }) { id } }',
      { source: folder },
    );
    const job = await vigil.waitForJob<Job>('datasetImportJob', submitted.importFolder.id, JOB);
    expect(job.status).toBe('SUCCEEDED');
    expect(job.summary?.layout).toBe('lookout');
    expect(job.summary?.entriesCreated).toBe(10);
    expect(job.summary?.failures).toEqual([expect.objectContaining({ code: 'INVALID_IMAGE' })]);
    const stats = await vigil.ok<{ project: { train: { stats: Stats }; test: { stats: Stats } } }>(
      '{ project(name: "vials-line-1") { train: dataset(type: TRAIN) { stats { total normal anomaly unlabelled withMask } } test: dataset(type: TEST) { stats { total normal anomaly unlabelled withMask } } } }',
    );
    expect(stats.project.train.stats).toMatchObject({ total: 6, normal: 4, anomaly: 2 });
    expect(stats.project.test.stats).toMatchObject({ total: 4, normal: 2, anomaly: 2 });
  });

  test('a manifest with a bad line fails whole, naming the line, and changes nothing', async () => {
    await vigil.ok('mutation { createProject(input: { name: "manifests" }) { id } }');
    const good = (n: number) =>
      JSON.stringify({
        'source-ref': `vigil://objects/${'0'.repeat(63)}${n}`,
        'anomaly-label': 0,
        'anomaly-label-metadata': { 'class-name': 'normal', type: 'groundtruth/image-classification' },
      });
    const text = [good(1), good(2), '{"source-ref": "broken', good(3)].join('\n');
    const submitted = await vigil.ok<{ importManifest: { id: string } }>(
      'mutation($text: String!) { importManifest(input: { project: { name: "manifests" }, datasetType: TRAIN, manifestText: $text }) { id } }',
      { text },
    );
    const job = await vigil.waitForJob<Job>('datasetImportJob', submitted.importManifest.id, JOB);
    expect(job.status).toBe('FAILED');
    expect(job.error?.code).toBe('INVALID_MANIFEST');
    expect(job.error?.message).toMatch(/line 3/);
    const project = await vigil.ok<{ project: { datasets: unknown[] } }>(
      '{ project(name: "manifests") { datasets { id } } }',
    );
    expect(project.project.datasets).toEqual([]);
  });

  test('splits a train dataset into train and test, reproducibly, and records the audit trail', async () => {
    await vigil.ok('mutation { createProject(input: { name: "split-me" }) { id } }');
    const folder = path.join(work, 'plain');
    await mkdir(folder, { recursive: true });
    for (let i = 0; i < 10; i++) {
      const kind = i < 6 ? 'normal' : 'anomaly';
      await writeFile(
        path.join(folder, `part-${kind}-${i}.png`),
        await syntheticImage({ format: 'png', width: 24, height: 24, seed: 500 + i, defect: kind === 'anomaly' }),
      );
    }
    const submitted = await vigil.ok<{ importFolder: { id: string } }>(
      'mutation($source: String!) { importFolder(input: { project: { name: "split-me" }, source: $source, labelFromFileName: true }) { id } }',
      { source: folder },
    );
    const job = await vigil.waitForJob<Job>('datasetImportJob', submitted.importFolder.id, JOB);
    expect(job.summary?.byDataset).toEqual([{ type: 'TRAIN', normal: 6, anomaly: 4, unlabelled: 0 }]);
    const project = await vigil.ok<{ project: { id: string } }>('{ project(name: "split-me") { id } }');
    const split = await vigil.ok<{ splitDataset: { moved: number; train: Stats; test: Stats } }>(
      'mutation($id: ID!) { splitDataset(projectId: $id, testFraction: 0.25, seed: 7) { moved train { normal anomaly } test { normal anomaly } } }',
      { id: project.project.id },
    );
    expect(split.splitDataset.test).toEqual({ normal: 2, anomaly: 1 });
    expect(split.splitDataset.train).toEqual({ normal: 4, anomaly: 3 });
    const again = await vigil.graphql('mutation($id: ID!) { splitDataset(projectId: $id) { moved } }', {
      id: project.project.id,
    });
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');

    const audit = await vigil.ok<{ auditLog: { nodes: { action: string; actorName: string; after: unknown }[] } }>(
      '{ auditLog(filter: { entityType: "project", entityId: "' +
        project.project.id +
        '" }) { nodes { action actorName after } } }',
    );
    expect(audit.auditLog.nodes.map((n) => n.action)).toEqual(
      expect.arrayContaining(['project.create', 'dataset.import-folder', 'dataset.split']),
    );
  });

  const withCookies = cookiesDir && !skip ? it : it.skip;
  if (!cookiesDir) it.skip('cookies walkthrough: skipped, ../shared/datasets/cookies is absent', () => undefined);

  withCookies(
    'imports the real cookies set: manifest (31 normal, 32 anomaly, 32 masks) and test images by folder',
    async () => {
      const dir = cookiesDir as string;
      await vigil.ok('mutation { createProject(input: { name: "cookies" }) { id } }');
      const manifest = await vigil.ok<{ importManifest: { id: string } }>(
        'mutation($uri: String!) { importManifest(input: { project: { name: "cookies" }, datasetType: TRAIN, manifestUri: $uri }) { id } }',
        { uri: path.join(dir, 'template.manifest') },
      );
      const manifestJob = await vigil.waitForJob<Job>('datasetImportJob', manifest.importManifest.id, JOB, 120_000);
      expect(manifestJob.status).toBe('SUCCEEDED');
      expect(manifestJob.summary).toMatchObject({ entriesCreated: 63, masks: 32 });

      const folder = await vigil.ok<{ importFolder: { id: string } }>(
        'mutation($source: String!) { importFolder(input: { project: { name: "cookies" }, source: $source, datasetType: TEST, labelFromFileName: true }) { id } }',
        { source: path.join(dir, 'test-images') },
      );
      const folderJob = await vigil.waitForJob<Job>('datasetImportJob', folder.importFolder.id, JOB, 120_000);
      expect(folderJob.status).toBe('SUCCEEDED');

      const stats = await vigil.ok<{ project: { train: { stats: Stats }; test: { stats: Stats } } }>(
        '{ project(name: "cookies") { train: dataset(type: TRAIN) { stats { total normal anomaly unlabelled withMask } } test: dataset(type: TEST) { stats { total normal anomaly unlabelled withMask } } } }',
      );
      expect(stats.project.train.stats).toEqual({ total: 63, normal: 31, anomaly: 32, unlabelled: 0, withMask: 32 });
      expect(stats.project.test.stats).toEqual({ total: 22, normal: 14, anomaly: 8, unlabelled: 0, withMask: 0 });

      // The export is a Lookout manifest that names Vigil's stored objects.
      const train = await vigil.ok<{ project: { dataset: { id: string } } }>(
        '{ project(name: "cookies") { dataset(type: TRAIN) { id } } }',
      );
      const exported = await vigil.ok<{ exportManifest: { manifest: string; lines: number } }>(
        'query($id: ID!) { exportManifest(datasetId: $id) { manifest lines } }',
        { id: train.project.dataset.id },
      );
      expect(exported.exportManifest.lines).toBe(63);
      const original = await readFile(path.join(dir, 'template.manifest'), 'utf8');
      expect(exported.exportManifest.manifest.split('\n').filter(Boolean)).toHaveLength(
        original.split('\n').filter(Boolean).length,
      );
    },
  );
});
