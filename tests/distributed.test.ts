import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { syntheticImage } from '@vigil/images/src/testing';
import { Cluster, clusterAvailable, startProcess, type ClusterProcess } from './support/cluster';
import { cookiesDir, skipMessage } from './support/environment';

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
    cluster = await Cluster.start({
      services: ['ingestion', 'dataset', 'training', 'inference'],
      // The walkthrough imports the cookies set from ../shared when it is there.
      importRoots: [os.tmpdir(), ...(cookiesDir ? [cookiesDir] : [])],
      // Fast heartbeats: a stopped model leaves every inference worker within a second.
      envFor: {
        inference: { INFERENCE_HEARTBEAT_SECONDS: '0.3', INFERENCE_THREADS: '1' },
        training: { TRAINING_THREADS: '1' },
      },
    });
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
  describe('the walkthrough through the gateway: train, host, detect, batch, records, stop', () => {
    interface Walk {
      project: string;
      projectId: string;
      modelId: string;
      testImageIds: string[];
      testDatasetId: string;
    }
    const walk: Partial<Walk> = {};
    const waitFor = async <T>(
      what: string,
      read: () => Promise<T>,
      done: (value: T) => boolean,
      timeoutMs = 60_000,
    ) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await read();
        if (done(value)) return value;
        if (Date.now() > deadline) {
          throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms\n${cluster.recentLogs(15)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    const importJob = (id: string) =>
      waitFor(
        `import ${id}`,
        async () =>
          (
            await gql<{ datasetImportJob: { status: string } }>(
              'query($id: ID!) { datasetImportJob(id: $id) { status } }',
              { id },
            )
          ).datasetImportJob.status,
        (status) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(status),
      );
    const hosting = async () =>
      (
        await gql<{
          modelVersion: { status: string; hosting: { state: string; workers: number; desiredWorkers: number } | null };
        }>('query($id: ID!) { modelVersion(id: $id) { status hosting { state workers desiredWorkers } } }', {
          id: walk.modelId,
        })
      ).modelVersion;

    it('creates the project and imports its datasets (the cookies set when ../shared has it)', async () => {
      walk.project = cookiesDir ? 'cookies' : 'walk';
      const created = await gql<{ createProject: { id: string } }>(
        'mutation($name: String!) { createProject(input: { name: $name }) { id } }',
        { name: walk.project },
      );
      walk.projectId = created.createProject.id;
      if (!cookiesDir) {
        console.warn(
          skipMessage(
            'the cookies import of the walkthrough',
            '../shared/datasets/cookies is absent; the walkthrough uses the small synthetic Lookout folder',
          ),
        );
        const folder = await gql<{ importFolder: { id: string } }>(
          'mutation($source: String!) { importFolder(input: { project: { name: "walk" }, source: $source }) { id } }',
          { source: imagesDir },
        );
        expect(await importJob(folder.importFolder.id)).toBe('SUCCEEDED');
      } else {
        const manifest = await gql<{ importManifest: { id: string } }>(
          'mutation($uri: String!) { importManifest(input: { project: { name: "cookies" }, datasetType: TRAIN, manifestUri: $uri }) { id } }',
          { uri: path.join(cookiesDir, 'template.manifest') },
        );
        expect(await importJob(manifest.importManifest.id)).toBe('SUCCEEDED');
        const folder = await gql<{ importFolder: { id: string } }>(
          'mutation($source: String!) { importFolder(input: { project: { name: "cookies" }, source: $source, datasetType: TEST, labelFromFileName: true }) { id } }',
          { source: path.join(cookiesDir, 'test-images') },
        );
        expect(await importJob(folder.importFolder.id)).toBe('SUCCEEDED');
      }
      const datasets = await gql<{
        project: { datasets: { id: string; type: string; entries: { nodes: { image: { id: string } }[] } }[] };
      }>(
        'query($id: ID!) { project(id: $id) { datasets { id type entries(first: 100) { nodes { image { id } } } } } }',
        {
          id: walk.projectId,
        },
      );
      const test = datasets.project.datasets.find((d) => d.type === 'TEST');
      expect(test?.entries.nodes.length).toBeGreaterThan(0);
      walk.testDatasetId = test?.id as string;
      walk.testImageIds = (test?.entries.nodes ?? []).map((n) => n.image.id);
    }, 120_000);

    it('trains a model in the training service and reads its metrics', async () => {
      // The previous step must have created the project and its datasets.
      expect(walk.testImageIds?.length ?? 0).toBeGreaterThan(0);
      // Pinned cheap engine settings: the point here is the path through the processes, not the accuracy.
      const created = await gql<{ createModel: { id: string; status: string } }>(
        'mutation($input: CreateModelInput!) { createModel(input: $input) { id status } }',
        { input: { project: { name: walk.project }, engine: { inputSize: cookiesDir ? 128 : 64, seed: 7 } } },
      );
      walk.modelId = created.createModel.id;
      const model = await waitFor(
        'training',
        async () =>
          (
            await gql<{
              modelVersion: {
                status: string;
                statusMessage: string | null;
                progress: { percent: number };
                metrics: {
                  precision: number;
                  recall: number;
                  f1: number;
                  threshold: number;
                  testImages: number;
                } | null;
                artifact: { sha256: string } | null;
              };
            }>(
              'query($id: ID!) { modelVersion(id: $id) { status statusMessage progress { percent } metrics { precision recall f1 threshold testImages } artifact { sha256 } } }',
              { id: walk.modelId },
            )
          ).modelVersion,
        (m) => m.status !== 'TRAINING',
        240_000,
      );
      expect(model).toMatchObject({ status: 'TRAINED', progress: { percent: 100 } });
      expect(model.metrics?.testImages).toBe(walk.testImageIds?.length);
      for (const value of [model.metrics?.precision, model.metrics?.recall, model.metrics?.f1]) {
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThanOrEqual(1);
      }
      expect(model.artifact?.sha256).toMatch(/^[0-9a-f]{64}$/);
    }, 300_000);

    it('starts the model on the inference workers (a second worker joins), detects one image and a batch', async () => {
      expect(walk.modelId).toMatch(/^[0-9a-f-]{36}$/);
      await cluster.startService('inference', { INFERENCE_HEARTBEAT_SECONDS: '0.3', INFERENCE_THREADS: '1' });
      await gql('mutation($id: ID!) { startModel(modelVersionId: $id, minWorkers: 1, maxWorkers: 2) { status } }', {
        id: walk.modelId,
      });
      const hosted = await waitFor('hosting', hosting, (m) => m.status !== 'STARTING_HOSTING');
      expect(hosted).toMatchObject({ status: 'HOSTED', hosting: { state: 'HOSTED' } });
      expect(hosted.hosting?.workers).toBeGreaterThanOrEqual(1);
      expect(hosted.hosting?.desiredWorkers).toBeGreaterThanOrEqual(1);
      // What an autoscaler scrapes from any inference process: the desired workers of the hosted version.
      const metrics = await (await fetch(`${cluster.processesOf('inference')[0]!.url}/metrics`)).text();
      expect(metrics).toMatch(
        new RegExp(`vigil_inference_desired_workers\\{model_version_id="${walk.modelId}"\\} [12]`),
      );

      const imageId = walk.testImageIds?.[0] as string;
      const detected = await gql<{
        detectAnomalies: { status: string; verdict: string; imageId: string; score: number; error: unknown };
      }>(
        'mutation($input: DetectAnomaliesInput!) { detectAnomalies(input: $input) { status verdict imageId score error { code message } } }',
        { input: { modelVersionId: walk.modelId, imageId, metadata: { line: 'L7' }, idempotencyKey: 'dist-walk-1' } },
      );
      expect(detected.detectAnomalies).toMatchObject({ status: 'DONE', imageId, error: null });
      expect(['NORMAL', 'ANOMALY']).toContain(detected.detectAnomalies.verdict);

      const batch = await gql<{ submitInspectionBatch: { id: string; total: number } }>(
        'mutation($input: SubmitInspectionBatchInput!) { submitInspectionBatch(input: $input) { id total } }',
        { input: { modelVersionId: walk.modelId, datasetId: walk.testDatasetId } },
      );
      expect(batch.submitInspectionBatch.total).toBe(walk.testImageIds?.length);
      const finished = await waitFor(
        'the batch',
        async () =>
          (
            await gql<{ inspectionBatch: { status: string; done: number; failed: number } }>(
              'query($id: ID!) { inspectionBatch(id: $id) { status done failed } }',
              { id: batch.submitInspectionBatch.id },
            )
          ).inspectionBatch,
        (b) => b.status === 'DONE',
        120_000,
      );
      expect(finished).toEqual({ status: 'DONE', done: walk.testImageIds?.length, failed: 0 });

      const records = await gql<{
        inspections: { nodes: { imageId: string; status: string; verdict: string }[] };
      }>('query($id: ID!) { inspections(filter: { batchId: $id }, first: 100) { nodes { imageId status verdict } } }', {
        id: batch.submitInspectionBatch.id,
      });
      expect(records.inspections.nodes.map((n) => n.imageId).sort()).toEqual([...(walk.testImageIds ?? [])].sort());
      const byLine = await gql<{ inspections: { nodes: { imageId: string }[] } }>(
        'query($p: ID!) { inspections(filter: { projectId: $p, line: "L7" }) { nodes { imageId } } }',
        { p: walk.projectId },
      );
      expect(byLine.inspections.nodes).toEqual([{ imageId }]);
    }, 240_000);

    it('inspects a newly uploaded image automatically: ImageIngested goes from ingestion to inference over BullMQ', async () => {
      expect(walk.modelId).toMatch(/^[0-9a-f-]{36}$/);
      await gql('mutation($input: SetAutoInspectionInput!) { setAutoInspection(input: $input) { enabled } }', {
        input: { projectId: walk.projectId, modelVersionId: walk.modelId, enabled: true, camera: 'CAM-AUTO' },
      });
      // A new image of the size the model was trained on (detection refuses any other).
      const size = (
        await gql<{ modelVersion: { imageSize: { width: number; height: number } | null } }>(
          'query($id: ID!) { modelVersion(id: $id) { imageSize { width height } } }',
          { id: walk.modelId },
        )
      ).modelVersion.imageSize ?? { width: 48, height: 32 };
      const bytes = await syntheticImage({ format: 'png', seed: 4242, ...size });
      const upload = await fetch(`${gateway.url}/v1/images?camera=CAM-AUTO`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}` },
        body: bytes,
      });
      expect(upload.status).toBe(201);
      const imageId = ((await upload.json()) as { image: { id: string } }).image.id;
      const records = await waitFor(
        'the automatic inspection',
        async () =>
          (
            await gql<{ inspections: { nodes: { imageId: string; status: string; requestedBy: string }[] } }>(
              'query($p: ID!) { inspections(filter: { projectId: $p, status: DONE }, first: 5) { nodes { imageId status requestedBy } } }',
              { p: walk.projectId },
            )
          ).inspections.nodes.filter((n) => n.imageId === imageId),
        (nodes) => nodes.length > 0,
      );
      expect(records).toEqual([{ imageId, status: 'DONE', requestedBy: 'auto-inspection' }]);
    }, 120_000);

    it('stops the model: every inference worker drops it and detection is refused', async () => {
      expect(walk.modelId).toMatch(/^[0-9a-f-]{36}$/);
      const stopped = await gql<{ stopModel: { status: string } }>(
        'mutation($id: ID!) { stopModel(modelVersionId: $id) { status } }',
        { id: walk.modelId },
      );
      expect(stopped.stopModel.status).toBe('TRAINED');
      const sha = (
        await gql<{ modelVersion: { artifact: { sha256: string } } }>(
          'query($id: ID!) { modelVersion(id: $id) { artifact { sha256 } } }',
          { id: walk.modelId },
        )
      ).modelVersion.artifact.sha256;
      const workers = await waitFor(
        'every worker dropping the model',
        async () =>
          (await gql<{ inferenceWorkers: { loadedArtifacts: string[] }[] }>('{ inferenceWorkers { loadedArtifacts } }'))
            .inferenceWorkers,
        (list) => list.length === 2 && list.every((w) => !w.loadedArtifacts.includes(sha)),
        30_000,
      );
      expect(workers).toHaveLength(2);
      const refused = await cluster.graphql<unknown>(
        'mutation($input: DetectAnomaliesInput!) { detectAnomalies(input: $input) { id } }',
        { input: { modelVersionId: walk.modelId, imageId: walk.testImageIds?.[0] } },
      );
      expect(refused.errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
    }, 60_000);
  });
});
