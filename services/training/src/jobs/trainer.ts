import sharp from 'sharp';
import { DatasetType, describeError, errors, isVigilError } from '@vigil/contracts';
import type { TrainingImage } from '@vigil/engine';
import type { AuditTrail, JobContext } from '@vigil/service-kit';
import { putContentAddressed, type ObjectStore } from '@vigil/storage';
import { TrainingSettingsSchema } from '../domain/create-input';
import { datasetDigest, type DigestEntry } from '../domain/dataset-digest';
import type { Engine, EngineModel } from '../domain/engine';
import { evaluation, summariseEvaluation, type Evaluation, type ModelMetrics } from '../domain/metrics';
import {
  LogBuffer,
  toModelVersion,
  type EngineSummaryRecord,
  type TrainingDataCounts,
  type Timings,
} from '../domain/model-version';
import { MIN_TRAIN_NORMALS, type Transactor } from '../domain/models';
import { stratifiedSplit } from '../domain/split';
import { engineReadable } from '../domain/engine-bytes';
import { uniformSize } from '../domain/image-size';
import { CANCELLED_MESSAGE, ModelStatus } from '../domain/statuses';
import type { EvaluationRepository } from '../repositories/evaluations';
import type { ModelVersionRepository } from '../repositories/model-versions';
import type { TrainingDataSource, TrainingEntry } from '../repositories/training-data';
import type { TrainModelPayload } from './payloads';

/** Reads an image's bytes by id (the image catalogue). */
export interface ImageBytes {
  readBytes(imageId: string): Promise<Buffer>;
}

export interface TrainerConfig {
  /** onnxruntime threads for training and evaluation. */
  readonly threads: number;
  readonly maxMaskBytes: number;
}

/** What a training job returns as its summary. */
export interface TrainingJobSummary {
  readonly modelVersionId: string;
  readonly version: number;
  readonly status: ModelStatus;
  readonly metrics: ModelMetrics | null;
  readonly data: TrainingDataCounts | null;
}

type Labelled = TrainingEntry & { readonly label: 'normal' | 'anomaly' };

/** Pixel truth is subsampled beyond this many pixels: AUROC sorts them all. */
const MAX_PIXEL_SAMPLES = 400_000;

class Cancelled extends Error {}

/** Percent ranges of the job's progress per step. */
const STEPS = {
  reading: [0, 2],
  loading: [2, 20],
  training: [20, 75],
  storing: [75, 78],
  evaluating: [78, 98],
  writing: [98, 100],
} as const;

/** Trains one model version: the job handler of TrainingJobKind.TrainModel. */
export class Trainer {
  constructor(
    private readonly versions: ModelVersionRepository,
    private readonly evaluations: EvaluationRepository,
    private readonly data: TrainingDataSource,
    private readonly images: ImageBytes,
    private readonly store: ObjectStore,
    private readonly engine: () => Promise<Engine>,
    private readonly audit: AuditTrail,
    private readonly tx: Transactor,
    private readonly config: TrainerConfig,
  ) {}

  async train(payload: TrainModelPayload, context: JobContext): Promise<TrainingJobSummary> {
    let row = await this.versions.findById(payload.modelVersionId);
    if (!row) throw errors.notFound('model version', payload.modelVersionId);
    const model = toModelVersion(row);
    const skipped = (): TrainingJobSummary => ({
      modelVersionId: model.id,
      version: model.version,
      status: model.status,
      metrics: model.metrics,
      data: model.engineSummary?.data ?? null,
    });
    // Cancelled before it ran, or already finished by an earlier attempt: nothing to do.
    if (model.status === ModelStatus.TrainingFailed && model.statusMessage?.startsWith(CANCELLED_MESSAGE))
      return skipped();
    if (model.status === ModelStatus.TrainingFailed) {
      row = await this.versions.transition(model.id, [ModelStatus.TrainingFailed], ModelStatus.Training, {
        status_message: null,
      });
      if (!row) return skipped();
    } else if (model.status !== ModelStatus.Training) return skipped();

    const logs = new LogBuffer(model.logs);
    const step = (name: keyof typeof STEPS, fraction: number, text: string) => {
      const [from, to] = STEPS[name];
      context.progress(Math.round(from + (to - from) * Math.min(1, Math.max(0, fraction))), 100, text);
    };
    const checkCancelled = () => {
      if (context.signal.aborted) throw new Cancelled();
    };
    const started = performance.now();
    try {
      const settings = TrainingSettingsSchema.parse(model.engineConfig);
      step('reading', 0, 'reading datasets');
      logs.add(`training version ${model.version} of project ${model.projectId}`);
      const { train, test, counts } = await this.readData(model.projectId, settings.split, logs);
      // Lookout requires detection images to have the training images' size: kept when uniform, so the
      // inference service can refuse another size; mixed sizes leave it unset (any size is then accepted).
      const size = uniformSize(train);
      if (size) logs.add(`every training image is ${size.width}x${size.height}: detection will require that size`);
      else logs.add('training images have mixed sizes: detection accepts any size', 'warn');
      const digest = datasetDigest([
        ...train.map((e): DigestEntry => ({ role: 'train', imageId: e.imageId, label: e.label, maskKey: e.maskKey })),
        ...test.map((e): DigestEntry => ({ role: 'test', imageId: e.imageId, label: e.label, maskKey: e.maskKey })),
      ]);
      await this.versions.patch(model.id, {
        dataset_digest: digest,
        image_width: size?.width ?? null,
        image_height: size?.height ?? null,
        logs: JSON.stringify(logs),
      });
      checkCancelled();

      const loadStarted = performance.now();
      const images: TrainingImage[] = [];
      for (const [i, entry] of train.entries()) {
        step('loading', i / train.length, `loading images ${i + 1}/${train.length}`);
        const bytes = await engineReadable(await this.images.readBytes(entry.imageId));
        const mask =
          entry.label === 'anomaly' && entry.maskKey
            ? await this.store.getBuffer(entry.maskKey, this.config.maxMaskBytes)
            : undefined;
        images.push({ bytes, label: entry.label, ...(mask ? { mask } : {}) });
        checkCancelled();
      }
      const classes = maskClasses(train);
      const loadingSeconds = (performance.now() - loadStarted) / 1000;
      logs.add(`loaded ${images.length} training images in ${loadingSeconds.toFixed(1)} s`);

      const engine = await this.engine();
      const trainStarted = performance.now();
      step('training', 0, 'training: features');
      let lastStage = '';
      const trained = await engine.trainModel(
        images,
        {
          config: settings.config,
          threshold: settings.threshold,
          seed: settings.seed,
          threads: this.config.threads,
          ...(classes.length ? { classes } : {}),
        },
        (p) => {
          step('training', p.fraction, `training: ${p.stage}`);
          if (p.stage !== lastStage) {
            lastStage = p.stage;
            logs.add(`training stage ${p.stage}${p.message ? `: ${p.message}` : ''}`);
          }
        },
      );
      const trainingSeconds = (performance.now() - trainStarted) / 1000;
      logs.add(`trained in ${trainingSeconds.toFixed(1)} s`);
      checkCancelled();

      step('storing', 0, 'storing the model artifact');
      const stored = await putContentAddressed(this.store, Buffer.from(trained.artifact), {
        namespace: 'models',
        contentType: 'application/octet-stream',
      });
      logs.add(`artifact ${stored.key} (${stored.size} bytes)`);
      await this.versions.patch(model.id, {
        artifact_key: stored.objectKey,
        artifact_sha256: stored.key,
        artifact_bytes: stored.size,
        logs: JSON.stringify(logs),
      });
      checkCancelled();

      const evalStarted = performance.now();
      const loaded = await engine.loadModel(trained.artifact, { threads: this.config.threads });
      let results: { rows: Evaluation[]; pixelAuroc: number | null };
      try {
        results = await this.evaluate(
          loaded,
          test,
          (i) => step('evaluating', i / test.length, `evaluating ${i + 1}/${test.length}`),
          context.signal,
        );
      } finally {
        await loaded.release();
      }
      checkCancelled();
      const metrics = summariseEvaluation(
        results.rows,
        loaded.info.threshold.image,
        results.pixelAuroc,
        engine.metrics,
      );
      const evaluationSeconds = (performance.now() - evalStarted) / 1000;
      logs.add(
        `evaluated ${results.rows.length} test images: precision ${metrics.precision.toFixed(3)}, recall ` +
          `${metrics.recall.toFixed(3)}, F1 ${metrics.f1.toFixed(3)}` +
          (metrics.auroc === null ? '' : `, AUROC ${metrics.auroc.toFixed(3)}`),
      );

      step('writing', 0, 'writing results');
      const timings: Timings = {
        loadingSeconds,
        trainingSeconds,
        evaluationSeconds,
        totalSeconds: (performance.now() - started) / 1000,
      };
      const summary: EngineSummaryRecord = { engine: trained.summary, data: counts };
      const finished = await this.tx.transaction(async (db) => {
        const done = await this.versions.transition(
          model.id,
          [ModelStatus.Training],
          ModelStatus.Trained,
          {
            status_message: counts.ignoredUnlabelled
              ? `trained; ${counts.ignoredUnlabelled} unlabelled image(s) ignored`
              : 'trained',
            metrics: JSON.stringify(metrics),
            engine_summary: JSON.stringify(summary),
            timings: JSON.stringify(timings),
            logs: JSON.stringify(logs),
            trained_at: new Date(),
          },
          db,
        );
        if (!done) return null;
        await this.evaluations.insertMany(model.id, results.rows, db);
        await this.audit.record(
          {
            actor: payload.actor.principal,
            requestId: payload.actor.requestId,
            action: 'model.trained',
            entityType: 'modelVersion',
            entityId: model.id,
            after: { status: ModelStatus.Trained, metrics, datasetDigest: digest, artifactSha256: stored.key },
          },
          db,
        );
        return toModelVersion(done);
      });
      step('writing', 1, 'done');
      return {
        modelVersionId: model.id,
        version: model.version,
        status: finished?.status ?? ModelStatus.TrainingFailed,
        metrics,
        data: counts,
      };
    } catch (error) {
      if (error instanceof Cancelled || context.signal.aborted) {
        logs.add('training stopped: cancelled', 'warn');
        await this.fail(model.id, CANCELLED_MESSAGE, logs);
        throw errors.conflict('the training was cancelled');
      }
      const described = describeError(error);
      const message = isVigilError(error) ? described.message : 'training failed with an internal error';
      logs.add(`training failed: ${message}`, 'error');
      context.log.warn({ err: error, modelVersionId: model.id }, 'training failed');
      await this.fail(model.id, message, logs);
      throw error;
    }
  }

  /** TRAINING -> TRAINING_FAILED, unless a cancel already got there (its message wins). */
  private async fail(id: string, message: string, logs: LogBuffer): Promise<void> {
    const row = await this.versions.transition(id, [ModelStatus.Training], ModelStatus.TrainingFailed, {
      status_message: message,
      logs: JSON.stringify(logs),
    });
    if (!row) await this.versions.patch(id, { logs: JSON.stringify(logs) });
  }

  private async readData(
    projectId: string,
    split: { testFraction: number; seed: number },
    logs: LogBuffer,
  ): Promise<{ train: Labelled[]; test: Labelled[]; counts: TrainingDataCounts }> {
    const trainEntries = await this.data.entries(projectId, DatasetType.Train);
    if (!trainEntries) throw errors.badInput('the project has no train dataset');
    const testEntries = await this.data.entries(projectId, DatasetType.Test);
    const labelled = (entries: readonly TrainingEntry[]) =>
      entries.filter((e): e is Labelled => e.label === 'normal' || e.label === 'anomaly');
    let ignored = trainEntries.length - labelled(trainEntries).length;
    let train = labelled(trainEntries);
    let test = testEntries ? labelled(testEntries) : [];
    ignored += (testEntries?.length ?? 0) - test.length;
    if (ignored > 0) logs.add(`${ignored} unlabelled image(s) ignored: label them to use them`, 'warn');
    const splitFromTrain = test.length === 0;
    if (splitFromTrain) {
      const parts = stratifiedSplit(train, split);
      train = parts.train;
      test = parts.test;
      logs.add(
        `no labelled test dataset: held out ${test.length} of ${train.length + test.length} train images for ` +
          `testing (seeded stratified split, fraction ${split.testFraction}, seed ${split.seed})`,
      );
    }
    const count = (entries: readonly Labelled[], label: string) => entries.filter((e) => e.label === label).length;
    const counts: TrainingDataCounts = {
      trainNormal: count(train, 'normal'),
      trainAnomaly: count(train, 'anomaly'),
      testNormal: count(test, 'normal'),
      testAnomaly: count(test, 'anomaly'),
      ignoredUnlabelled: ignored,
      splitFromTrain,
    };
    logs.add(
      `train: ${counts.trainNormal} normal, ${counts.trainAnomaly} anomaly; test: ${counts.testNormal} normal, ` +
        `${counts.testAnomaly} anomaly`,
    );
    if (counts.trainNormal === 0) throw errors.badInput('the train dataset has no normal images');
    if (counts.trainNormal < MIN_TRAIN_NORMALS)
      throw errors.badInput(
        `too few images: ${counts.trainNormal} normal image(s) to train on; training needs at least ${MIN_TRAIN_NORMALS}`,
      );
    if (test.length === 0)
      throw errors.badInput('too few images: nothing left to test on; add a test dataset or more train images');
    return { train, test, counts };
  }

  private async evaluate(
    model: EngineModel,
    test: readonly Labelled[],
    onImage: (index: number) => void,
    signal: AbortSignal,
  ): Promise<{ rows: Evaluation[]; pixelAuroc: number | null }> {
    const pixelTruth = test.some((e) => e.label === 'anomaly' && e.maskKey);
    const rows: Evaluation[] = [];
    const pixels: { scores: number[]; labels: number[] } = { scores: [], labels: [] };
    const known = test.filter((e) => e.label === 'normal' || e.maskKey).length;
    for (const [i, entry] of test.entries()) {
      onImage(i);
      const bytes = await engineReadable(await this.images.readBytes(entry.imageId));
      const withTruth = pixelTruth && (entry.label === 'normal' || entry.maskKey !== null);
      const result = await model.detect(bytes, { heatmap: false, segmentation: false, anomalyMap: withTruth });
      rows.push(
        evaluation({
          imageId: entry.imageId,
          expected: entry.label,
          score: result.score,
          rawScore: result.rawScore,
          isAnomalous: result.isAnomalous,
          maskKey: entry.maskKey,
        }),
      );
      if (withTruth && result.anomalyMap) {
        const map = result.anomalyMap;
        const truth =
          entry.label === 'anomaly' && entry.maskKey
            ? await maskRaster(
                await this.store.getBuffer(entry.maskKey, this.config.maxMaskBytes),
                map.width,
                map.height,
              )
            : new Uint8Array(map.width * map.height);
        // An even stride per image keeps every image's share, and the total bounded.
        const stride = Math.max(1, Math.ceil((map.data.length * known) / MAX_PIXEL_SAMPLES));
        for (let p = 0; p < map.data.length; p += stride) {
          pixels.scores.push(map.data[p] as number);
          pixels.labels.push(truth[p] as number);
        }
      }
      if (signal.aborted) break;
    }
    const engine = await this.engine();
    const pixelAuroc = pixels.scores.length ? engine.metrics.auroc(pixels.scores, pixels.labels) : null;
    return { rows, pixelAuroc };
  }
}

/** The union of the defect classes named by the training masks (by colour). */
function maskClasses(entries: readonly Labelled[]): { name: string; color: string }[] {
  const byColor = new Map<string, { name: string; color: string }>();
  for (const e of entries) {
    if (e.label !== 'anomaly' || !e.maskKey) continue;
    for (const c of e.maskClasses) if (!byColor.has(c.color.toUpperCase())) byColor.set(c.color.toUpperCase(), c);
  }
  return [...byColor.values()];
}

/** A mask PNG as 0/1 per pixel at the anomaly map's size: anything not black is defect. */
async function maskRaster(bytes: Buffer, width: number, height: number): Promise<Uint8Array> {
  const raw = await sharp(bytes)
    .removeAlpha()
    .resize(width, height, { fit: 'fill', kernel: 'nearest' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const channels = raw.info.channels;
  const out = new Uint8Array(width * height);
  for (let p = 0; p < out.length; p++) {
    let on = 0;
    for (let c = 0; c < channels; c++) if ((raw.data[p * channels + c] as number) > 0) on = 1;
    out[p] = on;
  }
  return out;
}
