/**
 * Imports from a user's S3 bucket (a real S3 protocol server on loopback): a folder in the Lookout layout
 * under a prefix, and the seed walkthrough's classification manifest with s3:// source-refs, whose numeric
 * labels are inverted (1 for its normal folder) while the class-name is right.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { syntheticImage } from '@vigil/images/src/testing';
import { S3RVER_CREDENTIALS, startS3rver, type RunningS3rver } from '@vigil/storage/testing';
import { TestPlatform } from './support/platform';

const BUCKET = 'customer-bucket';

interface Job {
  status: string;
  error: { code: string; message: string } | null;
  summary: {
    layout: string | null;
    entriesCreated: number;
    warnings: { line: number | null; message: string }[];
    byDataset: { type: string; normal: number; anomaly: number }[];
  } | null;
}
const JOB =
  'status error { code message } summary { layout entriesCreated warnings { line message } byDataset { type normal anomaly } }';

describe('imports from S3', () => {
  let s3: RunningS3rver;
  let vigil: TestPlatform;
  const savedEnv = { id: process.env['AWS_ACCESS_KEY_ID'], secret: process.env['AWS_SECRET_ACCESS_KEY'] };

  async function put(key: string, body: Buffer | string): Promise<void> {
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  }

  beforeAll(async () => {
    s3 = await startS3rver();
    await s3.createBucket(BUCKET);
    // The platform reads users' buckets through the default AWS credential chain.
    process.env['AWS_ACCESS_KEY_ID'] = S3RVER_CREDENTIALS.accessKeyId;
    process.env['AWS_SECRET_ACCESS_KEY'] = S3RVER_CREDENTIALS.secretAccessKey;
    let seed = 10;
    for (const [folder, defect, count] of [
      ['Train/Normal', false, 3],
      ['Train/Anomaly', true, 2],
      ['Test/Normal', false, 1],
      ['Test/Anomaly', true, 1],
    ] as const) {
      for (let i = 0; i < count; i++) {
        await put(
          `lookout/${folder}/part-${i}.jpg`,
          await syntheticImage({ format: 'jpeg', width: 40, height: 40, seed: seed++, defect }),
        );
      }
    }
    const lines = [];
    for (let i = 0; i < 3; i++) {
      const key = `walkthrough/normal/n-${i}.png`;
      await put(key, await syntheticImage({ format: 'png', width: 32, height: 32, seed: 100 + i }));
      lines.push({
        'source-ref': `s3://${BUCKET}/${key}`,
        'auto-label': 1,
        'auto-label-metadata': {
          confidence: 1,
          'job-name': 'labeling-job/auto-label',
          'class-name': 'normal',
          'human-annotated': 'yes',
          'creation-date': '2022-01-01T00:00:00',
          type: 'groundtruth/image-classification',
        },
      });
    }
    for (let i = 0; i < 2; i++) {
      const key = `walkthrough/anomaly/a-${i}.png`;
      await put(key, await syntheticImage({ format: 'png', width: 32, height: 32, seed: 200 + i, defect: true }));
      lines.push({
        'source-ref': `s3://${BUCKET}/${key}`,
        'auto-label': 0,
        'auto-label-metadata': {
          confidence: 1,
          'job-name': 'labeling-job/auto-label',
          'class-name': 'anomaly',
          'human-annotated': 'yes',
          'creation-date': '2022-01-01T00:00:00',
          type: 'groundtruth/image-classification',
        },
      });
    }
    await put('walkthrough/manifests/train.manifest', lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    vigil = await TestPlatform.start({ SOURCE_S3_ENDPOINT: s3.endpoint, SOURCE_S3_FORCE_PATH_STYLE: 'true' });
    await vigil.ok('mutation { createProject(input: { name: "from-s3" }) { id } }');
  });

  afterAll(async () => {
    await vigil?.stop();
    await s3?.stop();
    process.env['AWS_ACCESS_KEY_ID'] = savedEnv.id;
    process.env['AWS_SECRET_ACCESS_KEY'] = savedEnv.secret;
    if (savedEnv.id === undefined) delete process.env['AWS_ACCESS_KEY_ID'];
    if (savedEnv.secret === undefined) delete process.env['AWS_SECRET_ACCESS_KEY'];
  });

  it('imports a Lookout-layout S3 prefix into train and test', async () => {
    const submitted = await vigil.ok<{ importFolder: { id: string } }>(
      `mutation { importFolder(input: { project: { name: "from-s3" }, source: "s3://${BUCKET}/lookout/" }) { id } }`,
    );
    const job = await vigil.waitForJob<Job>('datasetImportJob', submitted.importFolder.id, JOB);
    expect(job.error).toBeNull();
    expect(job.summary?.layout).toBe('lookout');
    expect(job.summary?.byDataset).toEqual(
      expect.arrayContaining([
        { type: 'TRAIN', normal: 3, anomaly: 2 },
        { type: 'TEST', normal: 1, anomaly: 1 },
      ]),
    );
  });

  it("imports the seed walkthrough's manifest: class-name wins over the inverted number, with a warning per line", async () => {
    const submitted = await vigil.ok<{ importManifest: { id: string } }>(
      `mutation { importManifest(input: { project: { name: "from-s3" }, datasetType: TEST, manifestUri: "s3://${BUCKET}/walkthrough/manifests/train.manifest" }) { id } }`,
    );
    const job = await vigil.waitForJob<Job>('datasetImportJob', submitted.importManifest.id, JOB);
    expect(job.error).toBeNull();
    expect(job.summary?.byDataset).toEqual([{ type: 'TEST', normal: 3, anomaly: 2 }]);
    expect(job.summary?.warnings).toHaveLength(5);
    expect(job.summary?.warnings[0]?.line).toBe(1);
  });

  it('plain image intake from an S3 prefix keeps metadata and reports non-images', async () => {
    await put('intake/readme.txt', 'hello');
    await put('intake/cam1/a.png', await syntheticImage({ format: 'png', width: 20, height: 20, seed: 300 }));
    await put('intake/cam1/b.bmp', await syntheticImage({ format: 'bmp', width: 20, height: 20, seed: 301 }));
    const submitted = await vigil.ok<{ importImages: { id: string } }>(
      `mutation { importImages(input: { source: "s3://${BUCKET}/intake", metadata: { line: "L9", lot: "LOT-S3" } }) { id } }`,
    );
    const job = await vigil.waitForJob<{
      status: string;
      summary: { imported: number; skipped: number; failed: number };
    }>('imageImportJob', submitted.importImages.id, 'status summary { imported skipped failed }');
    expect(job).toEqual({ status: 'SUCCEEDED', summary: { imported: 2, skipped: 1, failed: 0 } });
    const images = await vigil.ok<{ images: { nodes: { line: string; format: string }[] } }>(
      '{ images(filter: { lot: "LOT-S3" }) { nodes { line format } } }',
    );
    expect(images.images.nodes.map((n) => n.format).sort()).toEqual(['BMP', 'PNG']);
  });
});
