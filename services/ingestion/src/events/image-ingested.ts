import type { Principal } from '@vigil/contracts';
import type { ImageCatalog, ImageRecord } from '@vigil/images';
import { captureMetadataToProto, encodeJson, eventsV1, EVENTS_QUEUE, timestampFromDate } from '@vigil/proto';
import type { JobSystem } from '@vigil/service-kit';

const FORMATS: Record<string, eventsV1.ImageFormat> = {
  jpeg: eventsV1.ImageFormat.JPEG,
  png: eventsV1.ImageFormat.PNG,
  tiff: eventsV1.ImageFormat.TIFF,
  bmp: eventsV1.ImageFormat.BMP,
};

/** The event's protobuf JSON, built with the generated type. */
export function imageIngestedEvent(image: ImageRecord, now: Date = new Date()): eventsV1.ImageIngestedJson {
  const metadata = {
    ...(image.line ? { line: image.line } : {}),
    ...(image.station ? { station: image.station } : {}),
    ...(image.camera ? { camera: image.camera } : {}),
    ...(image.lot ? { lot: image.lot } : {}),
    ...(image.capturedAt ? { capturedAt: image.capturedAt } : {}),
  };
  return encodeJson(eventsV1.ImageIngestedSchema, {
    imageId: image.id,
    sha256: image.id,
    format: FORMATS[image.format] ?? eventsV1.ImageFormat.UNSPECIFIED,
    width: image.width,
    height: image.height,
    metadata: captureMetadataToProto(metadata),
    ingestedAt: timestampFromDate(now),
  });
}

/** Publishes ImageIngested as a job on the events queue, once per image (the job's idempotency key). */
export class ImageEventPublisher {
  constructor(private readonly jobs: JobSystem) {}

  async imageIngested(image: ImageRecord, actor: Principal): Promise<void> {
    await this.jobs.submit({
      queue: EVENTS_QUEUE,
      kind: eventsV1.ImageIngestedSchema.typeName,
      payload: imageIngestedEvent(image),
      createdBy: actor.id,
      idempotencyKey: `image-ingested:${image.id}`,
    });
  }
}

/** What the upload route and the importer need of the catalogue. */
export type IngestingCatalog = Pick<ImageCatalog, 'ingest' | 'get' | 'readBytes'>;

/**
 * The catalogue as this service's upload route and bulk imports use it: every newly stored image (not a
 * deduplicated one) is announced with ImageIngested. Images stored by other services (dataset imports, the
 * inference upload route) are not: they are training data or already being inspected.
 */
export function publishingCatalog(catalog: ImageCatalog, events: ImageEventPublisher): IngestingCatalog {
  return {
    ingest: async (input) => {
      const result = await catalog.ingest(input);
      if (!result.deduplicated) await events.imageIngested(result.image, input.actor);
      return result;
    },
    get: (id) => catalog.get(id),
    readBytes: (...args) => catalog.readBytes(...args),
  };
}
