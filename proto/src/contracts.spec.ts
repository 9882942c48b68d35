import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { create, fromBinary, fromJson, toBinary, toJson, type DescMessage } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { ErrorCode, Role } from '@vigil/contracts';
import {
  actorFromProto,
  actorToProto,
  captureMetadataFromProto,
  captureMetadataToProto,
  commonV1,
  decodeJson,
  encodeJson,
  eventsV1,
  jobsV1,
  oneOf,
  requireText,
} from './index';

const namespaces: Record<string, Record<string, unknown>> = {
  'common/v1': commonV1,
  'jobs/v1': jobsV1,
  'events/v1': eventsV1,
};

function caught(work: () => unknown): { code?: string; message: string } {
  try {
    work();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('expected an error');
}

/** JSON and binary round trips give back the message. */
function roundTrips<Desc extends DescMessage>(schema: Desc, init: Parameters<typeof create<Desc>>[1]): void {
  const message = create(schema, init);
  expect(fromJson(schema, toJson(schema, message))).toEqual(message);
  expect(fromBinary(schema, toBinary(schema, message))).toEqual(message);
}

describe('the generated contracts', () => {
  it('exports every generated file through the namespace of its package version', async () => {
    const generated = path.join(__dirname, 'generated', 'vigil');
    for (const [folder, namespace] of Object.entries(namespaces)) {
      const files = readdirSync(path.join(generated, folder)).filter((f) => f.endsWith('_pb.ts'));
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        const module = (await import(path.join(generated, folder, file))) as Record<string, unknown>;
        for (const name of Object.keys(module))
          expect({ file, name, exported: name in namespace }).toMatchObject({ exported: true });
      }
    }
    const packages = readdirSync(generated).flatMap((pkg) =>
      readdirSync(path.join(generated, pkg)).map((v) => `${pkg}/${v}`),
    );
    expect(packages.sort()).toEqual(Object.keys(namespaces).sort());
  });

  it('names fields in JSON in lowerCamelCase, as job rows stored them before these contracts', () => {
    const json = encodeJson(jobsV1.ImportFolderJobSchema, {
      projectId: 'p',
      source: 's3://b/f',
      labelFromFileName: true,
      actor: { principal: { id: 'k', name: 'alice', role: 'operator' }, requestId: 'r' },
    });
    expect(json).toEqual({
      projectId: 'p',
      source: 's3://b/f',
      labelFromFileName: true,
      actor: { principal: { id: 'k', name: 'alice', role: 'operator' }, requestId: 'r' },
    });
  });

  it('round-trips the training and detection jobs', () => {
    roundTrips(jobsV1.TrainModelJobSchema, {
      modelVersionId: 'mv-1',
      projectId: 'p-1',
      actor: { principal: { id: 'k', name: 'alice', role: 'admin' } },
      thresholdPolicy: { mode: { case: 'falseRejectRate', value: 0.01 } },
      engineConfig: { backbones: ['mnv2-mid'], inputSize: 256, reweight: false, roi: null },
    });
    roundTrips(jobsV1.TrainModelJobSchema, {
      modelVersionId: 'mv-1',
      thresholdPolicy: { mode: { case: 'maximizeF1', value: {} } },
    });
    const detect = {
      inspectionId: 'i-1',
      imageId: 'img-1',
      modelVersionId: 'mv-1',
      idempotencyKey: 'line-1:part-42',
      metadata: { line: 'L1', station: 'S2', capturedAt: timestampFromDate(new Date('2024-05-01T10:00:00Z')) },
      actor: { principal: { id: 'k', name: 'mes', role: 'operator' } },
    };
    roundTrips(jobsV1.InteractiveDetectJobSchema, detect);
    roundTrips(jobsV1.BatchDetectJobSchema, { ...detect, batchId: 'b-1' });
  });

  it('keeps pinned engine settings as a JSON object', () => {
    const json = encodeJson(jobsV1.TrainModelJobSchema, {
      modelVersionId: 'mv-1',
      engineConfig: { layers: ['mid', 'deep'], topK: 5 },
      thresholdPolicy: { mode: { case: 'missRate', value: 0.05 } },
    });
    expect(json).toEqual({
      modelVersionId: 'mv-1',
      engineConfig: { layers: ['mid', 'deep'], topK: 5 },
      thresholdPolicy: { missRate: 0.05 },
    });
  });

  it('round-trips the events', () => {
    const at = timestampFromDate(new Date('2024-05-01T10:00:00.123Z'));
    roundTrips(eventsV1.ImageIngestedSchema, {
      imageId: 'img-1',
      sha256: 'ab'.repeat(32),
      format: eventsV1.ImageFormat.PNG,
      width: 640,
      height: 480,
      metadata: { lot: 'L-7', tags: ['a', 'b'] },
      ingestedAt: at,
    });
    roundTrips(eventsV1.ModelTrainedSchema, {
      modelVersionId: 'mv-1',
      projectId: 'p-1',
      version: 3,
      metrics: { precision: 0.9, recall: 0.8, f1: 0.85, auroc: 0.97, threshold: 0.42 },
      artifactSha256: 'cd'.repeat(32),
      datasetDigest: 'ef'.repeat(32),
      trainedAt: at,
    });
    roundTrips(eventsV1.InspectionCompletedSchema, {
      inspectionId: 'i-1',
      imageId: 'img-1',
      modelVersionId: 'mv-1',
      verdict: commonV1.Verdict.ANOMALY,
      score: 0.7,
      confidence: 0.9,
      threshold: 0.42,
      timings: { queueWaitMs: 1.5, decodeMs: 2, inferenceMs: 20, totalMs: 25 },
      completedAt: at,
    });
    expect(
      encodeJson(eventsV1.InspectionCompletedSchema, { verdict: commonV1.Verdict.NORMAL, completedAt: at }),
    ).toEqual({ verdict: 'VERDICT_NORMAL', completedAt: '2024-05-01T10:00:00.123Z' });
  });
});

describe('decodeJson', () => {
  it('ignores fields it does not know, so older workers read jobs from newer producers', () => {
    const job = decodeJson(jobsV1.ImportImagesJobSchema, { source: 's3://b/p', addedLater: { x: 1 } });
    expect(job.source).toBe('s3://b/p');
  });

  it.each([
    ['not an object', 'folder'],
    ['null', null],
    ['a field of the wrong type', { source: 5 }],
    ['a malformed timestamp', { source: 's', metadata: { capturedAt: 'soon' } }],
    ['a repeated field that is not a list', { source: 's', metadata: { tags: 'a' } }],
  ])('answers BAD_USER_INPUT naming the contract for %s', (_what, json) => {
    const error = caught(() => decodeJson(jobsV1.ImportImagesJobSchema, json));
    expect(error.code).toBe(ErrorCode.BadUserInput);
    expect(error.message).toContain('vigil.jobs.v1.ImportImagesJob');
  });
});

describe('domain mapping', () => {
  const what = 'vigil.test';

  it('maps the actor both ways and refuses one without a valid principal', () => {
    const actor = { principal: { id: 'k', name: 'alice', role: Role.Operator }, requestId: 'r' };
    expect(actorFromProto(create(commonV1.ActorSchema, actorToProto(actor)), what)).toEqual(actor);
    const noRequest = { principal: actor.principal };
    expect(actorFromProto(create(commonV1.ActorSchema, actorToProto(noRequest)), what)).toEqual(noRequest);
    for (const bad of [
      undefined,
      create(commonV1.ActorSchema, {}),
      create(commonV1.ActorSchema, { principal: { id: 'k', role: 'root' } }),
    ]) {
      expect(caught(() => actorFromProto(bad, what)).code).toBe(ErrorCode.BadUserInput);
    }
  });

  it('maps capture metadata both ways, applying the bounds of CaptureMetadata', () => {
    const metadata = { line: 'L1', camera: 'C', capturedAt: new Date('2024-01-01T00:00:00.250Z'), tags: ['a'] };
    const message = create(commonV1.CaptureMetadataSchema, captureMetadataToProto(metadata));
    expect(captureMetadataFromProto(message, what)).toEqual(metadata);
    expect(captureMetadataFromProto(undefined, what)).toBeUndefined();
    expect(captureMetadataFromProto(create(commonV1.CaptureMetadataSchema, { line: '  L2 ' }), what)).toEqual({
      line: 'L2',
    });
    const tooMany = create(commonV1.CaptureMetadataSchema, { tags: Array.from({ length: 33 }, (_, i) => `t${i}`) });
    expect(caught(() => captureMetadataFromProto(tooMany, what))).toMatchObject({ code: ErrorCode.BadUserInput });
  });

  it('checks required text and closed sets of values', () => {
    expect(requireText('x', 'f', what)).toBe('x');
    expect(caught(() => requireText('', 'f', what)).message).toContain('f is required');
    expect(oneOf('train', ['train', 'test'], 'datasetType', what)).toBe('train');
    expect(caught(() => oneOf('all', ['train', 'test'], 'datasetType', what)).code).toBe(ErrorCode.BadUserInput);
  });
});
