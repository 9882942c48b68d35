import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { syntheticImage } from '@vigil/images/src/testing';
import { Cluster, clusterAvailable, startProcess, type ClusterProcess } from './support/cluster';
import { skipMessage } from './support/environment';

/**
 * The distributed mode end to end: every service and the gateway as separate processes (their built
 * dist/main.js) over a fresh Postgres database, Redis (BullMQ under a unique prefix) and an S3 server,
 * driven through the gateway only, as a client would.
 */
const root = path.resolve(__dirname, '..');

if (!clusterAvailable()) {
  console.warn(skipMessage('the distributed-mode test', 'set VIGIL_TEST_DATABASE_URL and VIGIL_TEST_REDIS_URL'));
}

(clusterAvailable() ? describe : describe.skip)('distributed mode: a process per service', () => {
  let cluster: Cluster;
  let imagesDir = '';
  let gateway: ClusterProcess;
  let dataset: ClusterProcess;
  let adminKey = '';

  const gql = <T>(query: string, variables: Record<string, unknown> = {}) => cluster.gql<T>(query, variables);

  beforeAll(async () => {
    cluster = await Cluster.start({ services: ['ingestion', 'dataset', 'training', 'inference'] });
    imagesDir = path.join(cluster.tmp, 'lookout');
    const layout: [string, number, boolean][] = [
      ['Train/Normal', 3, false],
      ['Train/Anomaly', 2, true],
      ['Test/Normal', 2, false],
      ['Test/Anomaly', 1, true],
    ];
    let seed = 100;
    for (const [folder, count, defect] of layout) {
      await mkdir(path.join(imagesDir, folder), { recursive: true });
      for (let i = 0; i < count; i++) {
        const bytes = await syntheticImage({ format: 'png', seed: seed++, defect, width: 48, height: 32 });
        await writeFile(path.join(imagesDir, folder, `${i}.png`), bytes);
      }
    }
    gateway = cluster.gateway;
    dataset = cluster.processesOf('dataset')[0]!;
    adminKey = cluster.adminKey;
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('reports every service healthy through the gateway', async () => {
    const response = await fetch(`${gateway.url}/healthz`);
    const body = (await response.json()) as { status: string; checks: Record<string, string> };
    expect(response.status).toBe(200);
    expect(body.checks).toEqual({ database: 'ok', ingestion: 'ok', dataset: 'ok', training: 'ok', inference: 'ok' });
  });

  it('authenticates the bootstrapped key and answers from the in-process access subgraph', async () => {
    const data = await gql<{ viewer: { role: string } }>('{ viewer { role } }');
    expect(data.viewer.role).toBe('ADMIN');
    const anonymous = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer { role } }' }),
    });
    expect(anonymous.status).toBe(401);
  });

  it('uploads an image through the gateway to the ingestion service and reads it back', async () => {
    const bytes = await syntheticImage({ format: 'png', seed: 7, width: 40, height: 30 });
    const upload = await fetch(`${gateway.url}/v1/images?name=part-7.png&line=L1&tags=a,b`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'image/png' },
      body: bytes,
    });
    const uploaded = (await upload.json()) as { image: { id: string; width: number; format: string } };
    expect(upload.status).toBe(201);
    expect(uploaded.image).toMatchObject({ width: 40 });

    const content = await fetch(`${gateway.url}/v1/images/${uploaded.image.id}/content`, {
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(content.status).toBe(200);
    expect(content.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await content.arrayBuffer()).equals(bytes)).toBe(true);

    const anonymous = await fetch(`${gateway.url}/v1/images`, { method: 'POST', body: bytes });
    expect(anonymous.status).toBe(401);

    // The bytes went to the shared S3 bucket, where the dataset service can read them too.
    const listed = await cluster.s3.client.send(new ListObjectsV2Command({ Bucket: cluster.bucket }));
    expect(listed.KeyCount ?? 0).toBeGreaterThan(0);
  });

  it('imports a Lookout folder with a BullMQ job run by the dataset service', async () => {
    await gql('mutation { createProject(input: { name: "dist-line" }) { id } }');
    const started = await gql<{ importFolder: { id: string } }>(
      'mutation($source: String!) { importFolder(input: { project: { name: "dist-line" }, source: $source }) { id } }',
      { source: imagesDir },
    );
    const deadline = Date.now() + 30_000;
    let job: { status: string; summary: { layout: string; entriesCreated: number } | null; error: unknown };
    for (;;) {
      const data = await gql<{ datasetImportJob: typeof job }>(
        'query($id: ID!) { datasetImportJob(id: $id) { status error { code message } summary { layout entriesCreated } } }',
        { id: started.importFolder.id },
      );
      job = data.datasetImportJob;
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status)) break;
      if (Date.now() > deadline)
        throw new Error(`import still ${job.status}:\n${dataset.output.slice(-20).join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(job).toMatchObject({ status: 'SUCCEEDED', summary: { entriesCreated: 8 } });

    const data = await gql<{ project: { datasets: { type: string; stats: Record<string, number> }[] } }>(
      '{ project(name: "dist-line") { datasets { type stats { total normal anomaly unlabelled } } } }',
    );
    const stats = Object.fromEntries(data.project.datasets.map((d) => [d.type, d.stats]));
    expect(stats).toEqual({
      TRAIN: { total: 5, normal: 3, anomaly: 2, unlabelled: 0 },
      TEST: { total: 3, normal: 2, anomaly: 1, unlabelled: 0 },
    });
  });

  it('serves the same API from the supergraph composed at build time (SUPERGRAPH_PATH)', async () => {
    const subgraphs = (['ingestion', 'dataset', 'training', 'inference'] as const)
      .map((name) => `${name}=${cluster.processesOf(name)[0]!.url}/graphql`)
      .join(',');
    const fromFile = await startProcess(
      'gateway (supergraph file)',
      'gateway/dist/main.js',
      {
        ...cluster.sharedEnv,
        PORT: '0',
        HOST: '127.0.0.1',
        SUPERGRAPH_PATH: path.join(root, 'gateway/dist/supergraph.graphql'),
        SUBGRAPHS: subgraphs,
      },
      'gateway listening',
    );
    try {
      const response = await fetch(`${fromFile.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ query: '{ viewer { role } projects { nodes { name } } }' }),
      });
      const body = (await response.json()) as { data?: { viewer: { role: string }; projects: { nodes: unknown[] } } };
      expect(body.data?.viewer.role).toBe('ADMIN');
      expect(body.data?.projects.nodes).toEqual([{ name: 'dist-line' }]);
    } finally {
      await cluster.stopProcess(fromFile);
    }
  });

  it('refuses a subgraph called directly, without the gateway signature', async () => {
    for (const service of cluster.processes) {
      const unsigned = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-vigil-principal': 'v1.e30.forged' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(unsigned.status).toBe(401);
      const bare = await fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(bare.status).toBe(401);
    }
    const images = await fetch(
      `${cluster.processesOf('ingestion')[0]!.url}/v1/images/00000000-0000-0000-0000-000000000000/content`,
    );
    expect(images.status).toBe(401);
  });
});
