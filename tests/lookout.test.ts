/**
 * @jest-environment <rootDir>/packages/engine/testing/ort-environment.js
 */
/**
 * The Lookout for Vision–compatible REST API, driven only through @aws-sdk/client-lookoutvision and
 * @aws-sdk/client-s3 (s3rver on loopback holds the customer's bucket): the seed walkthrough end to end, pagination,
 * client-token retries, tags, every error type the service can produce, and the signature checks (unsigned, wrong
 * secret, a signature for another body, a stale date). Embedded mode always; distributed mode too when the
 * cluster support and Postgres/Redis are available (`npm run build` first).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  AccessDeniedException,
  ConflictException,
  InternalServerException,
  ThrottlingException,
  CreateDatasetCommand,
  CreateModelCommand,
  CreateProjectCommand,
  DeleteDatasetCommand,
  DeleteModelCommand,
  DeleteProjectCommand,
  DescribeDatasetCommand,
  DescribeModelCommand,
  DescribeModelPackagingJobCommand,
  ListModelPackagingJobsCommand,
  StartModelPackagingJobCommand,
  DescribeProjectCommand,
  DetectAnomaliesCommand,
  ListDatasetEntriesCommand,
  ListModelsCommand,
  ListProjectsCommand,
  ListTagsForResourceCommand,
  LookoutVisionClient,
  ResourceNotFoundException,
  ServiceQuotaExceededException,
  StartModelCommand,
  StopModelCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateDatasetEntriesCommand,
  ValidationException,
  type DescribeModelCommandOutput,
} from '@aws-sdk/client-lookoutvision';
import { SignatureV4 } from '@smithy/signature-v4';
import express from 'express';
import { ErrorCode, Role, VigilError } from '@vigil/contracts';
import { listen, silentLogger, type RunningHttpServer } from '@vigil/service-kit';
import { DEFAULT_ARN_SCHEME, LOOKOUT_PREFIX, lookoutRouter, type InferenceHttp } from '../gateway/src/lookout';
import type { GraphQLExecutor } from '../gateway/src/http/app';
import { InMemoryLookoutStore } from './support/lookout-fakes';
import { Sha256 } from '@aws-crypto/sha256-js';
import { syntheticImage } from '@vigil/images/src/testing';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '@vigil/storage/testing';
import { Cluster } from './support/cluster';
import { TestPlatform } from './support/platform';
import { cookiesDir, skipMessage, testDatabaseUrl, testRedisUrl } from './support/environment';

const BUCKET = 'customer-bucket';
const run = promisify(execFile);
const PROJECT = 'cookies-line-1';

/** A running Vigil as the suite needs it, in either mode. */
interface Target {
  readonly url: string;
  readonly s3: S3Client;
  gql<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** `vigil keys create --sigv4` where a CLI runs against the target, else the GraphQL mutation it calls. */
  createPair(role: 'ADMIN' | 'VIEWER'): Promise<CreatedPair>;
  /** `vigil keys revoke <id>`, or the GraphQL mutation. */
  revokePair(id: string): Promise<void>;
  stop(): Promise<void>;
}

interface CreatedPair {
  readonly secretAccessKey: string;
  readonly accessKeyPair: { readonly id: string; readonly accessKeyId: string };
}

const pairByGraphQL = async (
  gql: <T>(query: string, variables?: Record<string, unknown>) => Promise<T>,
  role: string,
): Promise<CreatedPair> =>
  (
    await gql<{ createAccessKeyPair: CreatedPair }>(
      'mutation($name: String!, $role: Role!) { createAccessKeyPair(name: $name, role: $role) { secretAccessKey accessKeyPair { id accessKeyId } } }',
      { name: `lookout ${role}`, role },
    )
  ).createAccessKeyPair;

interface LabelledImage {
  readonly key: string;
  readonly anomaly: boolean;
  readonly bytes: Buffer;
}

function manifestLine(image: LabelledImage): string {
  return JSON.stringify({
    'source-ref': `s3://${BUCKET}/${image.key}`,
    'anomaly-label': image.anomaly ? 1 : 0,
    'anomaly-label-metadata': {
      confidence: 1,
      'job-name': 'labeling-job/anomaly-label',
      'class-name': image.anomaly ? 'anomaly' : 'normal',
      'human-annotated': 'yes',
      'creation-date': '2022-01-01T00:00:00',
      type: 'groundtruth/image-classification',
    },
  });
}

/** The seed walkthrough's layout: images under <prefix>/<dataset>/<label>/, one manifest per dataset. */
async function writeWalkthroughBucket(s3: S3Client): Promise<{ train: LabelledImage[]; test: LabelledImage[] }> {
  const sets = { train: [] as LabelledImage[], test: [] as LabelledImage[] };
  let seed = 700;
  for (const [dataset, label, count] of [
    ['train', 'normal', 10],
    ['train', 'anomaly', 2],
    ['test', 'normal', 4],
    ['test', 'anomaly', 3],
  ] as const) {
    for (let i = 0; i < count; i++) {
      const anomaly = label === 'anomaly';
      const bytes = await syntheticImage({ format: 'png', width: 64, height: 64, seed: seed++, defect: anomaly });
      const key = `walkthrough/${dataset}/${label}/img-${i}.png`;
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes }));
      sets[dataset].push({ key, anomaly, bytes });
    }
  }
  for (const dataset of ['train', 'test'] as const) {
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `walkthrough/manifests/${dataset}.manifest`,
        Body: sets[dataset].map(manifestLine).join('\n') + '\n',
      }),
    );
  }
  return sets;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`still waiting after ${timeoutMs} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function startEmbedded(): Promise<Target> {
  const s3: RunningS3rver = await startS3rver();
  await s3.createBucket(BUCKET);
  const saved = { id: process.env['AWS_ACCESS_KEY_ID'], secret: process.env['AWS_SECRET_ACCESS_KEY'] };
  // The platform reads (and writes evaluation output to) the customer's bucket through the default chain.
  process.env['AWS_ACCESS_KEY_ID'] = S3RVER_CREDENTIALS.accessKeyId;
  process.env['AWS_SECRET_ACCESS_KEY'] = S3RVER_CREDENTIALS.secretAccessKey;
  const vigil = await TestPlatform.start({
    SOURCE_S3_ENDPOINT: s3.endpoint,
    SOURCE_S3_FORCE_PATH_STYLE: 'true',
    INFERENCE_THREADS: '1',
  });
  return {
    url: vigil.url,
    s3: s3.client,
    gql: (query, variables) => vigil.ok(query, variables),
    createPair: (role) => pairByGraphQL((query, variables) => vigil.ok(query, variables), role),
    revokePair: async (id) =>
      void (await vigil.ok('mutation($id: ID!) { revokeAccessKeyPair(id: $id) { id } }', { id })),
    stop: async () => {
      await vigil.stop();
      await s3.stop();
      for (const [name, value] of [
        ['AWS_ACCESS_KEY_ID', saved.id],
        ['AWS_SECRET_ACCESS_KEY', saved.secret],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    },
  };
}

async function startDistributed(): Promise<Target> {
  // The customer's bucket is theirs, not Vigil's object store: a second S3 server, which the services read
  // manifests from and the gateway writes evaluation output to.
  const customer = await startS3rver();
  await customer.createBucket(BUCKET);
  const source = { SOURCE_S3_ENDPOINT: customer.endpoint, SOURCE_S3_FORCE_PATH_STYLE: 'true' };
  const cluster = await Cluster.start({
    serviceEnv: source,
    gatewayEnv: {
      ...source,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
    },
  }).catch(async (error: unknown) => {
    await customer.stop();
    throw error;
  });
  return {
    url: cluster.url,
    s3: customer.client,
    gql: (query, variables) => cluster.gql(query, variables),
    // The operator's command, straight against the cluster's database and GATEWAY_SECRET.
    createPair: async (role) =>
      JSON.parse(
        await cluster.cli([
          'keys',
          'create',
          '--sigv4',
          '--role',
          role.toLowerCase(),
          '--name',
          `lookout ${role}`,
          '--json',
        ]),
      ) as CreatedPair,
    revokePair: async (id) => void (await cluster.cli(['keys', 'revoke', id])),
    stop: async () => {
      await cluster.stop();
      await customer.stop();
    },
  };
}

const distributedReady = existsSync('/tmp/vigil-cluster-ready') && Boolean(testDatabaseUrl) && Boolean(testRedisUrl);
const MODES: [string, () => Promise<Target>][] = [['embedded', startEmbedded]];
if (distributedReady) MODES.push(['distributed', startDistributed]);
else {
  it.skip('distributed mode (skipped: needs /tmp/vigil-cluster-ready, VIGIL_TEST_DATABASE_URL and VIGIL_TEST_REDIS_URL, and `npm run build`)', () =>
    undefined);
}

describe.each(MODES)('the Lookout for Vision API (%s)', (_mode, start) => {
  let target: Target;
  let lookout: LookoutVisionClient;
  let viewer: LookoutVisionClient;
  let viewerPairId: string;
  let credentials: { accessKeyId: string; secretAccessKey: string };
  let images: { train: LabelledImage[]; test: LabelledImage[] };

  const client = (
    creds: { accessKeyId: string; secretAccessKey: string },
    extra: ConstructorParameters<typeof LookoutVisionClient>[0] = {},
  ) =>
    new LookoutVisionClient({
      endpoint: target.url,
      region: 'us-east-1',
      credentials: creds,
      // One attempt: a test must see the first answer, not a retry's.
      maxAttempts: 1,
      ...extra,
    });

  beforeAll(async () => {
    target = await start();
    images = await writeWalkthroughBucket(target.s3);
    const admin = await target.createPair('ADMIN');
    credentials = { accessKeyId: admin.accessKeyPair.accessKeyId, secretAccessKey: admin.secretAccessKey };
    lookout = client(credentials);
    const reader = await target.createPair('VIEWER');
    viewer = client({ accessKeyId: reader.accessKeyPair.accessKeyId, secretAccessKey: reader.secretAccessKey });
    viewerPairId = reader.accessKeyPair.id;
  }, 180_000);

  afterAll(async () => {
    lookout?.destroy();
    viewer?.destroy();
    await target?.stop();
  });

  describe('signatures', () => {
    it('refuses an unsigned request with AccessDeniedException', async () => {
      const response = await fetch(`${target.url}/2020-11-20/projects`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ProjectName: 'unsigned' }),
      });
      expect(response.status).toBe(403);
      expect(response.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
      expect(((await response.json()) as { Message: string }).Message).toMatch(/sign/i);
    });

    it('refuses a request signed with the wrong secret', async () => {
      const forged = client({
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: 'not-the-secret-0123456789abcdefghijklm',
      });
      await expect(forged.send(new CreateProjectCommand({ ProjectName: 'forged' }))).rejects.toBeInstanceOf(
        AccessDeniedException,
      );
      forged.destroy();
    });

    it('refuses a signature made for another body', async () => {
      const url = new URL(`${target.url}/2020-11-20/projects`);
      const signer = new SignatureV4({ service: 'lookoutvision', region: 'us-east-1', credentials, sha256: Sha256 });
      const signed = await signer.sign({
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        query: {},
        headers: { host: url.host, 'content-type': 'application/json' },
        body: JSON.stringify({ ProjectName: 'signed-body' }),
      });
      const headers = Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k, String(v)]));
      // The signature is genuine, for the signed body; the body sent is another.
      const sameBody = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ProjectName: 'signed-body' }),
      });
      expect(sameBody.status).toBe(200);
      const otherBody = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ProjectName: 'swapped-body' }),
      });
      expect(otherBody.status).toBe(403);
      expect(otherBody.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
      // A declared payload hash that does not match the body is refused even when it is signed.
      const lying = await signer.sign({
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: url.pathname,
        query: {},
        headers: {
          host: url.host,
          'content-type': 'application/json',
          'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        },
        body: '',
      });
      const declared = await fetch(url, {
        method: 'POST',
        headers: Object.fromEntries(Object.entries(lying.headers).map(([k, v]) => [k, String(v)])),
        body: JSON.stringify({ ProjectName: 'declared-empty' }),
      });
      expect(declared.status).toBe(403);
      await lookout.send(new DeleteProjectCommand({ ProjectName: 'signed-body' }));
      await expect(lookout.send(new DescribeProjectCommand({ ProjectName: 'swapped-body' }))).rejects.toBeInstanceOf(
        ResourceNotFoundException,
      );
      await expect(lookout.send(new DescribeProjectCommand({ ProjectName: 'declared-empty' }))).rejects.toBeInstanceOf(
        ResourceNotFoundException,
      );
    });

    it('refuses a stale signature (x-amz-date over 5 minutes old) and creates nothing', async () => {
      const stale = client(credentials, { systemClockOffset: -10 * 60 * 1000 });
      const error = await stale.send(new CreateProjectCommand({ ProjectName: 'stale' })).catch((e: unknown) => e);
      stale.destroy();
      expect(error).toBeInstanceOf(AccessDeniedException);
      expect((error as Error).message).toMatch(/expired/i);
      await expect(lookout.send(new DescribeProjectCommand({ ProjectName: 'stale' }))).rejects.toBeInstanceOf(
        ResourceNotFoundException,
      );
    });
  });

  describe('the seed walkthrough', () => {
    let trained: DescribeModelCommandOutput;
    /** DetectAnomalies' verdict per test image, for the edge package to agree with. */
    const detectedVerdicts: boolean[] = [];

    it('creates a project and its train and test datasets from manifests in S3', async () => {
      const created = await lookout.send(new CreateProjectCommand({ ProjectName: PROJECT }));
      expect(created.ProjectMetadata).toMatchObject({
        ProjectName: PROJECT,
        ProjectArn: `arn:aws:lookoutvision:us-east-1:000000000000:project/${PROJECT}`,
      });
      expect(created.ProjectMetadata?.CreationTimestamp).toBeInstanceOf(Date);
      for (const type of ['train', 'test']) {
        const dataset = await lookout.send(
          new CreateDatasetCommand({
            ProjectName: PROJECT,
            DatasetType: type,
            DatasetSource: {
              GroundTruthManifest: { S3Object: { Bucket: BUCKET, Key: `walkthrough/manifests/${type}.manifest` } },
            },
          }),
        );
        expect(dataset.$metadata.httpStatusCode).toBe(202);
        expect(dataset.DatasetMetadata).toMatchObject({ DatasetType: type, Status: 'CREATE_IN_PROGRESS' });
      }
      for (const [type, normal, anomaly] of [
        ['train', 10, 2],
        ['test', 4, 3],
      ] as const) {
        const described = await until(
          () => lookout.send(new DescribeDatasetCommand({ ProjectName: PROJECT, DatasetType: type })),
          (d) => d.DatasetDescription?.Status !== 'CREATE_IN_PROGRESS',
        );
        expect(described.DatasetDescription).toMatchObject({
          ProjectName: PROJECT,
          DatasetType: type,
          Status: 'CREATE_COMPLETE',
          ImageStats: { Total: normal + anomaly, Labeled: normal + anomaly, Normal: normal, Anomaly: anomaly },
        });
      }
      const project = await lookout.send(new DescribeProjectCommand({ ProjectName: PROJECT }));
      expect(project.ProjectDescription?.Datasets?.map((d) => [d.DatasetType, d.Status]).sort()).toEqual([
        ['test', 'CREATE_COMPLETE'],
        ['train', 'CREATE_COMPLETE'],
      ]);
    });

    it('lists dataset entries as manifest lines, with filters and pages', async () => {
      const all = await lookout.send(new ListDatasetEntriesCommand({ ProjectName: PROJECT, DatasetType: 'train' }));
      expect(all.DatasetEntries).toHaveLength(12);
      expect(all.NextToken).toBeUndefined();
      const refs = all.DatasetEntries?.map((line) => (JSON.parse(line) as { 'source-ref': string })['source-ref']);
      expect(refs?.sort()).toEqual(images.train.map((i) => `s3://${BUCKET}/${i.key}`).sort());

      const anomalies = await lookout.send(
        new ListDatasetEntriesCommand({ ProjectName: PROJECT, DatasetType: 'train', AnomalyClass: 'anomaly' }),
      );
      expect(anomalies.DatasetEntries).toHaveLength(2);
      for (const line of anomalies.DatasetEntries ?? []) {
        expect(JSON.parse(line)).toMatchObject({
          'anomaly-label': 1,
          'anomaly-label-metadata': { 'class-name': 'anomaly' },
        });
      }
      const containing = await lookout.send(
        new ListDatasetEntriesCommand({ ProjectName: PROJECT, DatasetType: 'train', SourceRefContains: 'img-1.' }),
      );
      expect(containing.DatasetEntries).toHaveLength(2);
      const future = await lookout.send(
        new ListDatasetEntriesCommand({
          ProjectName: PROJECT,
          DatasetType: 'train',
          AfterCreationDate: new Date(Date.now() + 3_600_000),
        }),
      );
      expect(future.DatasetEntries).toEqual([]);

      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await lookout.send(
          new ListDatasetEntriesCommand({
            ProjectName: PROJECT,
            DatasetType: 'train',
            MaxResults: 5,
            NextToken: token,
          }),
        );
        expect(page.DatasetEntries?.length).toBeLessThanOrEqual(5);
        seen.push(...(page.DatasetEntries ?? []));
        token = page.NextToken;
        pages++;
      } while (token);
      expect(pages).toBe(3);
      expect(new Set(seen).size).toBe(12);
    });

    it('trains a model (CreateModel) to TRAINED and writes its evaluation to OutputConfig', async () => {
      const created = await lookout.send(
        new CreateModelCommand({
          ProjectName: PROJECT,
          Description: 'first model',
          OutputConfig: { S3Location: { Bucket: BUCKET, Prefix: 'model-output/' } },
          Tags: [{ Key: 'line', Value: '1' }],
        }),
      );
      expect(created.$metadata.httpStatusCode).toBe(202);
      expect(created.ModelMetadata).toMatchObject({
        ModelVersion: '1',
        Status: 'TRAINING',
        Description: 'first model',
        ModelArn: `arn:aws:lookoutvision:us-east-1:000000000000:model/${PROJECT}/1`,
      });
      trained = await until(
        () => lookout.send(new DescribeModelCommand({ ProjectName: PROJECT, ModelVersion: '1' })),
        (m) => m.ModelDescription?.Status !== 'TRAINING',
        150_000,
      );
      const description = trained.ModelDescription;
      expect(description?.Status).toBe('TRAINED');
      expect(description?.Performance?.F1Score).toBeGreaterThanOrEqual(0);
      expect(description?.EvaluationEndTimestamp).toBeInstanceOf(Date);
      expect(description?.OutputConfig).toEqual({ S3Location: { Bucket: BUCKET, Prefix: 'model-output/' } });
      expect(description?.EvaluationResult?.Bucket).toBe(BUCKET);
      const result = await target.s3.send(
        new GetObjectCommand({ Bucket: BUCKET, Key: description?.EvaluationResult?.Key ?? 'missing' }),
      );
      const evaluation = JSON.parse(await (result.Body?.transformToString() ?? Promise.resolve('{}'))) as {
        EvaluationDetails: { NumberOfTestImages: number };
        AggregatedEvaluationResults: { Metrics: { F1Score: number } };
      };
      expect(evaluation.EvaluationDetails.NumberOfTestImages).toBe(7);
      expect(evaluation.AggregatedEvaluationResults.Metrics.F1Score).toBeCloseTo(
        description?.Performance?.F1Score ?? -1,
        5,
      );
      const manifest = await target.s3.send(
        new GetObjectCommand({ Bucket: BUCKET, Key: description?.EvaluationManifest?.Key ?? 'missing' }),
      );
      expect((await manifest.Body?.transformToString())?.trim().split('\n')).toHaveLength(7);

      const models = await lookout.send(new ListModelsCommand({ ProjectName: PROJECT }));
      expect(models.Models?.map((m) => [m.ModelVersion, m.Status])).toEqual([['1', 'TRAINED']]);
      const tags = await lookout.send(new ListTagsForResourceCommand({ ResourceArn: description?.ModelArn }));
      expect(tags.Tags).toEqual([{ Key: 'line', Value: '1' }]);
    });

    it('hosts the model (StartModel) and detects the test images with verdicts matching their labels', async () => {
      await expect(
        lookout.send(
          new DetectAnomaliesCommand({
            ProjectName: PROJECT,
            ModelVersion: '1',
            ContentType: 'image/png',
            Body: images.test[0]?.bytes ?? Buffer.alloc(0),
          }),
        ),
      ).rejects.toBeInstanceOf(ConflictException);
      const started = await lookout.send(
        new StartModelCommand({ ProjectName: PROJECT, ModelVersion: '1', MinInferenceUnits: 1, MaxInferenceUnits: 2 }),
      );
      expect(started.$metadata.httpStatusCode).toBe(202);
      expect(['STARTING_HOSTING', 'HOSTED']).toContain(started.Status);
      const hosted = await until(
        () => lookout.send(new DescribeModelCommand({ ProjectName: PROJECT, ModelVersion: '1' })),
        (m) => m.ModelDescription?.Status !== 'STARTING_HOSTING',
      );
      expect(hosted.ModelDescription).toMatchObject({ Status: 'HOSTED', MinInferenceUnits: 1, MaxInferenceUnits: 2 });

      let right = 0;
      detectedVerdicts.length = 0;
      for (const image of images.test) {
        const detected = await lookout.send(
          new DetectAnomaliesCommand({
            ProjectName: PROJECT,
            ModelVersion: '1',
            ContentType: 'image/png',
            Body: image.bytes,
          }),
        );
        const result = detected.DetectAnomalyResult;
        expect(result?.Source).toEqual({ Type: 'direct' });
        expect(typeof result?.IsAnomalous).toBe('boolean');
        expect(result?.Confidence).toBeGreaterThanOrEqual(0);
        expect(result?.Confidence).toBeLessThanOrEqual(1);
        if (result?.IsAnomalous === image.anomaly) right++;
        detectedVerdicts.push(Boolean(result?.IsAnomalous));
      }
      // The synthetic defects are plain to see: the model gets (nearly) every test image right.
      expect(right).toBeGreaterThanOrEqual(images.test.length - 1);
      const jpeg = await lookout
        .send(
          new DetectAnomaliesCommand({
            ProjectName: PROJECT,
            ModelVersion: '1',
            ContentType: 'image/gif',
            Body: images.test[0]?.bytes ?? Buffer.alloc(0),
          }),
        )
        .catch((e: unknown) => e);
      expect(jpeg).toBeInstanceOf(ValidationException);
    });

    it('writes an edge package (StartModelPackagingJob) whose runner agrees with DetectAnomalies', async () => {
      const started = await lookout.send(
        new StartModelPackagingJobCommand({
          ProjectName: PROJECT,
          ModelVersion: '1',
          JobName: 'edge-1',
          Description: 'line 1 camera',
          Configuration: {
            Greengrass: {
              ComponentName: 'cookie-inspector',
              ComponentVersion: '1.0.0',
              S3OutputLocation: { Bucket: BUCKET, Prefix: 'edge/' },
              TargetPlatform: { Os: 'LINUX', Arch: 'X86_64' },
            },
          },
        }),
      );
      expect(started.JobName).toBe('edge-1');
      const done = await until(
        () => lookout.send(new DescribeModelPackagingJobCommand({ ProjectName: PROJECT, JobName: 'edge-1' })),
        (j) => !['CREATED', 'RUNNING'].includes(j.ModelPackagingDescription?.Status ?? ''),
      );
      expect(done.ModelPackagingDescription).toMatchObject({
        JobName: 'edge-1',
        ProjectName: PROJECT,
        ModelVersion: '1',
        ModelPackagingMethod: 'Greengrass',
        ModelPackagingJobDescription: 'line 1 camera',
        Status: 'SUCCEEDED',
        ModelPackagingOutputDetails: { Greengrass: { ComponentName: 'cookie-inspector', ComponentVersion: '1.0.0' } },
      });
      expect(done.ModelPackagingDescription?.ModelPackagingConfiguration?.Greengrass?.S3OutputLocation).toEqual({
        Bucket: BUCKET,
        Prefix: 'edge/',
      });
      const listed = await lookout.send(new ListModelPackagingJobsCommand({ ProjectName: PROJECT }));
      expect(listed.ModelPackagingJobs?.map((j) => [j.JobName, j.Status])).toEqual([['edge-1', 'SUCCEEDED']]);
      await expect(
        lookout.send(new DescribeModelPackagingJobCommand({ ProjectName: PROJECT, JobName: 'no-such-job' })),
      ).rejects.toBeInstanceOf(ResourceNotFoundException);

      // Fetch the package from the bucket and run it as a device would, on the test images.
      const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-edge-'));
      try {
        for (const file of ['model.onnx', 'preprocessing.json', 'run.js', 'package.json']) {
          const object = await target.s3.send(
            new GetObjectCommand({ Bucket: BUCKET, Key: `edge/cookie-inspector/1.0.0/${file}` }),
          );
          await writeFile(path.join(dir, file), await object.Body!.transformToByteArray());
        }
        const files: string[] = [];
        for (const [i, image] of images.test.entries()) {
          files.push(path.join(dir, `test-${i}.png`));
          await writeFile(path.join(dir, `test-${i}.png`), image.bytes);
        }
        const { stdout } = await run(process.execPath, [path.join(dir, 'run.js'), ...files], {
          env: { ...process.env, NODE_OPTIONS: '', NODE_PATH: path.resolve(__dirname, '../node_modules') },
        });
        const verdicts = stdout
          .trim()
          .split('\n')
          .map((line) => (JSON.parse(line) as { anomalous: boolean }).anomalous);
        expect(verdicts).toEqual(detectedVerdicts);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('stops, deletes the model, the datasets and the project', async () => {
      const stopped = await lookout.send(new StopModelCommand({ ProjectName: PROJECT, ModelVersion: '1' }));
      expect(['STOPPING_HOSTING', 'TRAINED']).toContain(stopped.Status);
      await until(
        () => lookout.send(new DescribeModelCommand({ ProjectName: PROJECT, ModelVersion: '1' })),
        (m) => m.ModelDescription?.Status === 'TRAINED',
      );
      const deleted = await lookout.send(new DeleteModelCommand({ ProjectName: PROJECT, ModelVersion: '1' }));
      expect(deleted.ModelArn).toBe(`arn:aws:lookoutvision:us-east-1:000000000000:model/${PROJECT}/1`);
      await expect(
        lookout.send(new DescribeModelCommand({ ProjectName: PROJECT, ModelVersion: '1' })),
      ).rejects.toBeInstanceOf(ResourceNotFoundException);
      for (const type of ['train', 'test']) {
        const gone = await lookout.send(new DeleteDatasetCommand({ ProjectName: PROJECT, DatasetType: type }));
        expect(gone.$metadata.httpStatusCode).toBe(202);
      }
      const project = await lookout.send(new DeleteProjectCommand({ ProjectName: PROJECT }));
      expect(project.ProjectArn).toBe(`arn:aws:lookoutvision:us-east-1:000000000000:project/${PROJECT}`);
      await expect(lookout.send(new DescribeProjectCommand({ ProjectName: PROJECT }))).rejects.toBeInstanceOf(
        ResourceNotFoundException,
      );
    });
  });

  describe('the rest of the API', () => {
    it('pages ListProjects with MaxResults and NextToken', async () => {
      for (const name of ['page-a', 'page-b', 'page-c'])
        await lookout.send(new CreateProjectCommand({ ProjectName: name }));
      const names: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await lookout.send(new ListProjectsCommand({ MaxResults: 2, NextToken: token }));
        expect(page.Projects?.length).toBeLessThanOrEqual(2);
        names.push(...(page.Projects ?? []).map((p) => p.ProjectName ?? ''));
        token = page.NextToken;
        pages++;
      } while (token);
      expect(names).toEqual(expect.arrayContaining(['page-a', 'page-b', 'page-c']));
      expect(new Set(names).size).toBe(names.length);
      expect(pages).toBeGreaterThanOrEqual(2);
    });

    it('replays the first answer for a retried client token, and refuses the token with other parameters', async () => {
      const first = await lookout.send(
        new CreateProjectCommand({ ProjectName: 'retried', ClientToken: 'retry-token-1' }),
      );
      const again = await lookout.send(
        new CreateProjectCommand({ ProjectName: 'retried', ClientToken: 'retry-token-1' }),
      );
      expect(again.ProjectMetadata).toEqual(first.ProjectMetadata);
      // Without the token, the same call is a second creation: a conflict.
      await expect(lookout.send(new CreateProjectCommand({ ProjectName: 'retried' }))).rejects.toBeInstanceOf(
        ConflictException,
      );
      await expect(
        lookout.send(new CreateProjectCommand({ ProjectName: 'other-name', ClientToken: 'retry-token-1' })),
      ).rejects.toBeInstanceOf(ConflictException);
    });

    it('adds manifest lines with UpdateDatasetEntries', async () => {
      await lookout.send(new CreateDatasetCommand({ ProjectName: 'retried', DatasetType: 'train' }));
      const changes = images.train.slice(0, 3).map(manifestLine).join('\n');
      const updated = await lookout.send(
        new UpdateDatasetEntriesCommand({
          ProjectName: 'retried',
          DatasetType: 'train',
          Changes: new TextEncoder().encode(changes),
        }),
      );
      expect(updated.Status).toBe('UPDATE_IN_PROGRESS');
      const described = await until(
        () => lookout.send(new DescribeDatasetCommand({ ProjectName: 'retried', DatasetType: 'train' })),
        (d) => d.DatasetDescription?.Status !== 'UPDATE_IN_PROGRESS',
      );
      expect(described.DatasetDescription).toMatchObject({ Status: 'UPDATE_COMPLETE', ImageStats: { Total: 3 } });
      const entries = await lookout.send(
        new ListDatasetEntriesCommand({ ProjectName: 'retried', DatasetType: 'train', Labeled: true }),
      );
      expect(entries.DatasetEntries).toHaveLength(3);
    });

    it('tags a project, lists and removes tags, and refuses more than 200 (ServiceQuotaExceededException)', async () => {
      const arn = 'arn:aws:lookoutvision:us-east-1:000000000000:project/page-a';
      await lookout.send(
        new TagResourceCommand({
          ResourceArn: arn,
          Tags: [
            { Key: 'site', Value: 'lyon' },
            { Key: 'line', Value: '2' },
          ],
        }),
      );
      expect((await lookout.send(new ListTagsForResourceCommand({ ResourceArn: arn }))).Tags).toEqual([
        { Key: 'line', Value: '2' },
        { Key: 'site', Value: 'lyon' },
      ]);
      await lookout.send(new UntagResourceCommand({ ResourceArn: arn, TagKeys: ['line'] }));
      expect((await lookout.send(new ListTagsForResourceCommand({ ResourceArn: arn }))).Tags).toEqual([
        { Key: 'site', Value: 'lyon' },
      ]);
      const many = Array.from({ length: 200 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
      await expect(lookout.send(new TagResourceCommand({ ResourceArn: arn, Tags: many }))).rejects.toBeInstanceOf(
        ServiceQuotaExceededException,
      );
      await expect(
        lookout.send(
          new ListTagsForResourceCommand({ ResourceArn: 'arn:aws:lookoutvision:us-east-1:000000000000:project/none' }),
        ),
      ).rejects.toBeInstanceOf(ResourceNotFoundException);
    });

    it('maps each error type', async () => {
      await expect(lookout.send(new DescribeProjectCommand({ ProjectName: 'no-such-project' }))).rejects.toBeInstanceOf(
        ResourceNotFoundException,
      );
      await expect(
        lookout.send(new DescribeModelCommand({ ProjectName: 'page-a', ModelVersion: '9' })),
      ).rejects.toBeInstanceOf(ResourceNotFoundException);
      await expect(lookout.send(new CreateProjectCommand({ ProjectName: 'bad name!' }))).rejects.toBeInstanceOf(
        ValidationException,
      );
      await expect(
        lookout.send(new DescribeDatasetCommand({ ProjectName: 'page-a', DatasetType: 'validation' })),
      ).rejects.toBeInstanceOf(ValidationException);
      await expect(lookout.send(new CreateProjectCommand({ ProjectName: 'page-a' }))).rejects.toBeInstanceOf(
        ConflictException,
      );
      // A viewer key reads but cannot change anything.
      const listed = await viewer.send(new ListProjectsCommand({}));
      expect(listed.Projects?.length).toBeGreaterThan(0);
      await expect(viewer.send(new CreateProjectCommand({ ProjectName: 'by-viewer' }))).rejects.toBeInstanceOf(
        AccessDeniedException,
      );
    });

    it('refuses a revoked key pair at once', async () => {
      await viewer.send(new ListProjectsCommand({}));
      await target.revokePair(viewerPairId);
      const error = await viewer.send(new ListProjectsCommand({})).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AccessDeniedException);
      expect((error as Error).message).toMatch(/revoked/);
    });

    it('records every call in the audit trail as the key that signed it', async () => {
      const audit = await target.gql<{
        auditLog: { nodes: { action: string; actorName: string; entityId: string }[] };
      }>(
        '{ auditLog(filter: { action: "lookout.CreateProject" }, first: 100) { nodes { action actorName entityId } } }',
      );
      expect(audit.auditLog.nodes.length).toBeGreaterThanOrEqual(4);
      expect(audit.auditLog.nodes.every((n) => n.actorName.startsWith('lookout '))).toBe(true);
      const created = await target.gql<{ auditLog: { nodes: { actorName: string }[] } }>(
        '{ auditLog(filter: { action: "project.create" }, first: 100) { nodes { actorName } } }',
      );
      expect(created.auditLog.nodes.some((n) => n.actorName === 'lookout ADMIN')).toBe(true);
    });
  });
});

/**
 * The error types the running services cannot be made to produce on demand (a full detection queue, an internal
 * failure), through the same router and the real client, over fake backends.
 */
describe('the Lookout for Vision API over fake backends (throttling and internal errors)', () => {
  let server: RunningHttpServer;
  let lookout: LookoutVisionClient;
  const audited: string[] = [];
  const pair = { accessKeyId: 'VGLAABCDEFGHIJKLMNOP', secretAccessKey: 'fake-secret-for-the-router-test-0123456789' };
  const principal = { id: '00000000-0000-4000-8000-000000000001', name: 'fake key', role: Role.Admin };

  const execute: GraphQLExecutor = async (_context, query) => {
    if (query.includes('LookoutProjects')) {
      return {
        errors: [
          {
            message: 'the queue is full',
            extensions: { code: 'RESOURCE_EXHAUSTED', details: { retryAfterSeconds: 7 } },
          },
        ],
      };
    }
    if (query.includes('LookoutModel(')) {
      return {
        data: {
          project: {
            model: {
              id: '00000000-0000-4000-8000-000000000002',
              version: 1,
              status: 'HOSTED',
              statusMessage: null,
              description: null,
              createdAt: new Date().toISOString(),
              trainedAt: null,
              metrics: null,
              hosting: { minWorkers: 1, maxWorkers: 1 },
            },
          },
        },
      };
    }
    throw new Error('a bug deep inside');
  };
  const inference: InferenceHttp = {
    request: async () => ({
      status: 429,
      headers: new Headers({ 'retry-after': '3' }),
      body: Buffer.from(
        JSON.stringify({
          error: {
            code: 'RESOURCE_EXHAUSTED',
            message: 'the inference-interactive queue is full',
            details: { retryAfterSeconds: 3 },
          },
        }),
      ),
    }),
  };

  beforeAll(async () => {
    const app = express();
    app.use(
      LOOKOUT_PREFIX,
      lookoutRouter({
        execute,
        inference,
        store: new InMemoryLookoutStore(),
        arns: DEFAULT_ARN_SCHEME,
        keys: {
          signingIdentity: async (id) => {
            if (id !== pair.accessKeyId) throw new VigilError(ErrorCode.Unauthenticated, 'unknown access key id');
            return { principal, secretAccessKey: pair.secretAccessKey };
          },
        },
        audit: { record: async (event) => void audited.push(event.action) },
        log: silentLogger(),
        maxBodyBytes: 1_000_000,
      }),
    );
    server = await listen(app, 0, '127.0.0.1');
    lookout = new LookoutVisionClient({ endpoint: server.url, region: 'eu-west-1', credentials: pair, maxAttempts: 1 });
  });

  afterAll(async () => {
    lookout?.destroy();
    await server?.close();
  });

  it('answers RESOURCE_EXHAUSTED with ThrottlingException and retry-after', async () => {
    const error = await lookout.send(new ListProjectsCommand({})).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottlingException);
    expect((error as ThrottlingException).RetryAfterSeconds).toBe(7);
    expect((error as ThrottlingException).$metadata.httpStatusCode).toBe(429);
  });

  it('answers a full detection queue with ThrottlingException', async () => {
    const error = await lookout
      .send(
        new DetectAnomaliesCommand({
          ProjectName: 'p',
          ModelVersion: '1',
          ContentType: 'image/jpeg',
          Body: new Uint8Array([0xff, 0xd8, 0xff]),
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ThrottlingException);
    expect((error as ThrottlingException).RetryAfterSeconds).toBe(3);
  });

  it('answers an unexpected failure with InternalServerException and no internal detail', async () => {
    const error = await lookout.send(new DescribeProjectCommand({ ProjectName: 'p' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerException);
    expect((error as Error).message).toBe('Internal error');
    expect(audited).toEqual(['lookout.ListProjects', 'lookout.DetectAnomalies', 'lookout.DescribeProject']);
  });
});

/**
 * The seed walkthrough on its own data, when ../shared/datasets/cookies is present: the folder uploaded to the
 * customer's bucket, the Ground Truth manifest (classification + segmentation masks) rewritten to s3:// URIs as
 * Lookout requires, a segmentation model trained through CreateModel, and DetectAnomalies answering with class
 * areas (background first) and the mask PNG, each verdict the one the version's own evaluation gave that image.
 */
const cookiesDescribe = cookiesDir ? describe : describe.skip;
if (!cookiesDir) {
  it.skip(skipMessage('the cookies walkthrough', '../shared/datasets/cookies is absent'), () => undefined);
}
cookiesDescribe('the Lookout for Vision API on the cookies set (embedded)', () => {
  const COOKIES = 'cookies';
  let target: Target;
  let lookout: LookoutVisionClient;
  const testImages: { name: string; anomaly: boolean; bytes: Buffer }[] = [];

  beforeAll(async () => {
    const dir = cookiesDir as string;
    target = await startEmbedded();
    const pair = await target.createPair('ADMIN');
    lookout = new LookoutVisionClient({
      endpoint: target.url,
      region: 'us-east-1',
      credentials: { accessKeyId: pair.accessKeyPair.accessKeyId, secretAccessKey: pair.secretAccessKey },
      maxAttempts: 1,
    });
    for (const folder of ['training-images', 'mask-images', 'test-images']) {
      for (const file of await readdir(path.join(dir, folder))) {
        const bytes = await readFile(path.join(dir, folder, file));
        await target.s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `cookies/${folder}/${file}`, Body: bytes }));
        if (folder === 'test-images') testImages.push({ name: file, anomaly: file.includes('anomaly'), bytes });
      }
    }
    const train = (await readFile(path.join(dir, 'template.manifest'), 'utf8'))
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        entry['source-ref'] = `s3://${BUCKET}/cookies/${String(entry['source-ref'])}`;
        if (typeof entry['anomaly-mask-ref'] === 'string') {
          entry['anomaly-mask-ref'] = `s3://${BUCKET}/cookies/${entry['anomaly-mask-ref']}`;
        }
        return JSON.stringify(entry);
      });
    const test = testImages.map((image) =>
      manifestLine({ key: `cookies/test-images/${image.name}`, anomaly: image.anomaly, bytes: image.bytes }),
    );
    for (const [name, lines] of [
      ['train', train],
      ['test', test],
    ] as const) {
      await target.s3.send(
        new PutObjectCommand({ Bucket: BUCKET, Key: `cookies/manifests/${name}.manifest`, Body: lines.join('\n') }),
      );
    }
  }, 180_000);

  afterAll(async () => {
    lookout?.destroy();
    await target?.stop();
  });

  it('trains, hosts and detects like the seed walkthrough, with segmentation', async () => {
    await lookout.send(new CreateProjectCommand({ ProjectName: COOKIES }));
    for (const type of ['train', 'test']) {
      await lookout.send(
        new CreateDatasetCommand({
          ProjectName: COOKIES,
          DatasetType: type,
          DatasetSource: {
            GroundTruthManifest: { S3Object: { Bucket: BUCKET, Key: `cookies/manifests/${type}.manifest` } },
          },
        }),
      );
      const dataset = await until(
        () => lookout.send(new DescribeDatasetCommand({ ProjectName: COOKIES, DatasetType: type })),
        (d) => d.DatasetDescription?.Status !== 'CREATE_IN_PROGRESS',
      );
      expect(dataset.DatasetDescription?.Status).toBe('CREATE_COMPLETE');
    }
    await lookout.send(
      new CreateModelCommand({
        ProjectName: COOKIES,
        OutputConfig: { S3Location: { Bucket: BUCKET, Prefix: 'out/' } },
      }),
    );
    const trained = await until(
      () => lookout.send(new DescribeModelCommand({ ProjectName: COOKIES, ModelVersion: '1' })),
      (m) => m.ModelDescription?.Status !== 'TRAINING',
      900_000,
    );
    expect(trained.ModelDescription?.Status).toBe('TRAINED');
    await lookout.send(new StartModelCommand({ ProjectName: COOKIES, ModelVersion: '1', MinInferenceUnits: 1 }));
    await until(
      () => lookout.send(new DescribeModelCommand({ ProjectName: COOKIES, ModelVersion: '1' })),
      (m) => m.ModelDescription?.Status === 'HOSTED',
    );
    // What the version's own evaluation said of each test image (the same bytes, the same model).
    const evaluation = await target.gql<{
      project: { model: { evaluation: { nodes: { verdict: string; image: { id: string } }[] } } };
    }>(
      '{ project(name: "cookies") { model(version: 1) { evaluation(first: 100) { nodes { verdict image { id } } } } } }',
    );
    const expected = new Map(
      evaluation.project.model.evaluation.nodes.map((n) => [n.image.id, n.verdict === 'ANOMALY']),
    );
    let right = 0;
    let withMask = 0;
    for (const image of testImages) {
      const result = (
        await lookout.send(
          new DetectAnomaliesCommand({
            ProjectName: COOKIES,
            ModelVersion: '1',
            ContentType: 'image/jpeg',
            Body: image.bytes,
          }),
        )
      ).DetectAnomalyResult;
      const digest = createHash('sha256').update(image.bytes).digest('hex');
      expect(result?.IsAnomalous).toBe(expected.get(digest));
      if (result?.IsAnomalous === image.anomaly) right++;
      expect(result?.Anomalies?.[0]?.Name).toBe('background');
      if (result?.AnomalyMask) {
        withMask++;
        expect(Buffer.from(result.AnomalyMask).subarray(1, 4).toString('latin1')).toBe('PNG');
      }
    }
    expect(withMask).toBeGreaterThan(0);
    // Lookout's own result on this set is near perfect; a model that guesses would score about half.
    expect(right / testImages.length).toBeGreaterThanOrEqual(0.75);
    await lookout.send(new StopModelCommand({ ProjectName: COOKIES, ModelVersion: '1' }));
  }, 1_200_000);
});
