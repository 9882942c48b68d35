import { createHash } from 'node:crypto';
import { errors, Role } from '@vigil/contracts';
import type { Database, Kysely } from '@vigil/db';
import type { AuditEvent, AuditTrail, JobContext } from '@vigil/service-kit';
import { silentLogger } from '@vigil/service-kit';
import type { InMemoryJobStore } from '@vigil/queue/testing';
import type { Engine, EngineModel } from '../domain/engine';
import type { Actor, JobPort } from '../domain/models';

export const actor: Actor = { principal: { id: 'key-1', name: 'alice', role: Role.Operator }, requestId: 'req-1' };

export class RecordingAudit implements AuditTrail {
  readonly events: AuditEvent[] = [];
  async record(event: AuditEvent): Promise<void> {
    this.events.push(event);
  }
}

export function jobPort(store: InMemoryJobStore): JobPort {
  return {
    submit: async (input) => (await store.create(input)).job,
    get: async (id) => (await store.get(id)) ?? undefined,
    cancel: async (id) => (await store.cancel(id)) ?? undefined,
  };
}

/** A fake image's bytes name its label, so the fake engine can "detect" it. */
export function imageId(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

export type Label = 'normal' | 'anomaly' | 'unlabelled';

/** Inserts a project with datasets of fake images; names are `<label>-<i>` per dataset type. */
export async function seedProject(
  db: Kysely<Database>,
  name: string,
  datasets: { train?: Partial<Record<Label, number>>; test?: Partial<Record<Label, number>> },
): Promise<{ projectId: string; names: Map<string, string> }> {
  const project = await db
    .insertInto('projects')
    .values({ name, created_by: 'seed' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const names = new Map<string, string>();
  for (const [type, counts] of Object.entries(datasets)) {
    if (!counts) continue;
    const dataset = await db
      .insertInto('datasets')
      .values({ project_id: project.id, type })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const [label, count] of Object.entries(counts)) {
      for (let i = 0; i < (count ?? 0); i++) {
        const file = `${name}/${type}/${label}-${i}`;
        const id = imageId(file);
        names.set(id, `${label}-${i}`);
        await db
          .insertInto('images')
          .values({
            id,
            format: 'png',
            width: 8,
            height: 8,
            channels: 1,
            bit_depth: 8,
            byte_size: 10,
            tags: '[]',
            created_by: 'seed',
          })
          .onConflict((oc) => oc.column('id').doNothing())
          .execute();
        await db
          .insertInto('dataset_entries')
          .values({ dataset_id: dataset.id, image_id: id, label, mask_classes: '[]' })
          .execute();
      }
    }
  }
  return { projectId: project.id, names };
}

/** Image bytes are the image's label name (anomaly-3): enough for the fake engine. */
export function fakeImages(names: () => Map<string, string>) {
  return {
    readBytes: async (id: string) => {
      const name = names().get(id);
      if (!name) throw errors.notFound('image', id);
      return Buffer.from(name);
    },
  };
}

export interface FakeEngineOptions {
  trainError?: Error;
  onTrain?: () => void;
}

/** Calls anything named anomaly-* anomalous, except anomaly-0, which it misses. */
export function fakeEngine(options: FakeEngineOptions = {}): Engine & { trained: number } {
  const engine = {
    trained: 0,
    trainModel: async (
      images: readonly { bytes: Uint8Array; label: string }[],
      _options: unknown,
      onProgress: (p: { stage: 'features' | 'coreset' | 'calibration' | 'done'; fraction: number }) => void,
    ) => {
      options.onTrain?.();
      if (options.trainError) throw options.trainError;
      onProgress({ stage: 'features', fraction: 0.3 });
      onProgress({ stage: 'done', fraction: 1 });
      engine.trained++;
      return { artifact: Buffer.from(`model of ${images.length} images`), summary: { images: images.length } };
    },
    loadModel: async (): Promise<EngineModel> => ({
      info: { threshold: { image: 5 } },
      detect: async (bytes: Uint8Array) => {
        const name = Buffer.from(bytes).toString();
        const anomalous = name.startsWith('anomaly-') && name !== 'anomaly-0';
        return { isAnomalous: anomalous, score: anomalous ? 0.9 : 0.1, rawScore: anomalous ? 9 : 1 };
      },
      release: async () => undefined,
    }),
    metrics: {
      auroc: (scores: ArrayLike<number>, labels: ArrayLike<boolean | number>) => {
        let pos = 0;
        let neg = 0;
        let ordered = 0;
        for (let i = 0; i < scores.length; i++)
          for (let j = 0; j < scores.length; j++)
            if (labels[i] && !labels[j]) {
              if ((scores[i] as number) > (scores[j] as number)) ordered++;
              else if (scores[i] === scores[j]) ordered += 0.5;
            }
        for (let i = 0; i < labels.length; i++) if (labels[i]) pos++;
        neg = labels.length - pos;
        return pos && neg ? ordered / (pos * neg) : NaN;
      },
      precisionRecallF1: (c: { tp: number; fp: number; fn: number }) => {
        const precision = c.tp + c.fp ? c.tp / (c.tp + c.fp) : 0;
        const recall = c.tp + c.fn ? c.tp / (c.tp + c.fn) : 0;
        const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
        return { precision, recall, f1 };
      },
    },
  };
  return engine;
}

export function jobContext(
  jobId = 'job-1',
): JobContext & { steps: (string | undefined)[]; done: number[]; abort(): void } {
  const controller = new AbortController();
  const steps: (string | undefined)[] = [];
  const done: number[] = [];
  return {
    jobId,
    signal: controller.signal,
    log: silentLogger(),
    steps,
    done,
    abort: () => controller.abort(),
    progress: (d, _total, step) => {
      done.push(d);
      steps.push(step);
    },
  };
}
