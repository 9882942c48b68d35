import { describe, expect, it } from '@jest/globals';
import { Role } from '@vigil/contracts';
import { ImageCatalog } from '@vigil/images';
import { InMemoryImageRepository, InMemoryObjectStore, syntheticImage } from '@vigil/images/src/testing';
import { decodeJson, eventsV1, EVENTS_QUEUE } from '@vigil/proto';
import type { JobSystem } from '@vigil/service-kit';
import { ImageEventPublisher, publishingCatalog } from './image-ingested';

const actor = { id: 'key-1', name: 'alice', role: Role.Operator };

function recordingJobs(): { jobs: JobSystem; submitted: Parameters<JobSystem['submit']>[0][] } {
  const submitted: Parameters<JobSystem['submit']>[0][] = [];
  const jobs = {
    submit: async (input: Parameters<JobSystem['submit']>[0]) => {
      submitted.push(input);
      return { id: `job-${submitted.length}` } as Awaited<ReturnType<JobSystem['submit']>>;
    },
    get: async () => undefined,
    cancel: async () => undefined,
    register: () => undefined,
  } satisfies JobSystem;
  return { jobs, submitted };
}

describe('ImageIngested publishing', () => {
  it('announces each newly stored image once, as a generated ImageIngested on the events queue', async () => {
    const catalog = new ImageCatalog({ images: new InMemoryImageRepository(), store: new InMemoryObjectStore() });
    const { jobs, submitted } = recordingJobs();
    const announcing = publishingCatalog(catalog, new ImageEventPublisher(jobs));
    const bytes = await syntheticImage({ format: 'png', width: 24, height: 16, seed: 3 });
    const first = await announcing.ingest({ bytes, metadata: { line: 'L1', camera: 'C2' }, actor });
    const again = await announcing.ingest({ bytes, actor });
    expect(again.deduplicated).toBe(true);
    expect(submitted).toHaveLength(1);
    const job = submitted[0];
    expect(job).toMatchObject({
      queue: EVENTS_QUEUE,
      kind: 'vigil.events.v1.ImageIngested',
      createdBy: 'key-1',
      idempotencyKey: `image-ingested:${first.image.id}`,
    });
    const event = decodeJson(eventsV1.ImageIngestedSchema, job?.payload);
    expect(event).toMatchObject({
      imageId: first.image.id,
      sha256: first.image.id,
      format: eventsV1.ImageFormat.PNG,
      width: 24,
      height: 16,
      metadata: { line: 'L1', camera: 'C2' },
    });
  });

  it('publishes nothing for a rejected upload', async () => {
    const catalog = new ImageCatalog({ images: new InMemoryImageRepository(), store: new InMemoryObjectStore() });
    const { jobs, submitted } = recordingJobs();
    const announcing = publishingCatalog(catalog, new ImageEventPublisher(jobs));
    await expect(announcing.ingest({ bytes: Buffer.from('not an image'), actor })).rejects.toMatchObject({
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
    expect(submitted).toHaveLength(0);
  });
});
