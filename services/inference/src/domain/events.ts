import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { commonV1, create, encodeJson, eventsV1 } from '@vigil/proto';
import type { Logger } from '@vigil/service-kit';
import type { Inspection } from './types';

export type InspectionCompletedListener = (event: eventsV1.InspectionCompleted, inspection: Inspection) => void;

/**
 * InspectionCompleted (vigil.events.v1), produced with the generated type. There is no event bus yet:
 * publishing is a structured log line plus in-process listeners (the interactive waiter is one). A broker
 * would subscribe here.
 */
export class InspectionEvents {
  private readonly listeners = new Set<InspectionCompletedListener>();

  constructor(private readonly log: Logger) {}

  subscribe(listener: InspectionCompletedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** For every finished inspection; a failed one has no verdict (VERDICT_UNSPECIFIED) and is only logged. */
  publish(inspection: Inspection): void {
    const t = inspection.timings;
    const event = create(eventsV1.InspectionCompletedSchema, {
      inspectionId: inspection.id,
      imageId: inspection.imageId,
      modelVersionId: inspection.modelVersionId,
      verdict:
        inspection.verdict === 'anomaly'
          ? commonV1.Verdict.ANOMALY
          : inspection.verdict === 'normal'
            ? commonV1.Verdict.NORMAL
            : commonV1.Verdict.UNSPECIFIED,
      score: inspection.score ?? 0,
      confidence: inspection.confidence ?? 0,
      threshold: inspection.threshold ?? 0,
      ...(t
        ? {
            timings: {
              queueWaitMs: t.queueWaitMs,
              decodeMs: t.decodeMs,
              inferenceMs: t.inferenceMs,
              totalMs: t.totalMs,
            },
          }
        : {}),
      completedAt: timestampFromDate(inspection.finishedAt ?? new Date()),
    });
    if (inspection.status === 'DONE') {
      this.log.info({ event: encodeJson(eventsV1.InspectionCompletedSchema, event) }, 'InspectionCompleted');
    }
    for (const listener of this.listeners) {
      try {
        listener(event, inspection);
      } catch (error) {
        this.log.warn({ err: error }, 'InspectionCompleted listener failed');
      }
    }
  }
}
