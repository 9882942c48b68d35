import type { Principal } from '@vigil/contracts';
import type { SourceItem, SourceLocation } from '@vigil/storage';

/** Puts an image into the catalogue (validated, content-addressed); owned by the image catalogue. */
export interface ImageIntake {
  ingest(input: {
    bytes: Buffer;
    originalName?: string;
    actor: Principal;
  }): Promise<{ imageId: string; deduplicated: boolean }>;
}

/** Validates and stores a segmentation mask; returns its object key. */
export interface MaskIntake {
  store(bytes: Buffer): Promise<{ objectKey: string }>;
}

/** Reads users' folders, S3 prefixes and Vigil objects. */
export interface Sources {
  list(root: SourceLocation): AsyncIterable<SourceItem>;
  read(location: SourceLocation, maxBytes: number): Promise<Buffer>;
}

/** What a job handler gets to report with. */
export interface ImportProgress {
  readonly signal: AbortSignal;
  progress(done: number, total?: number, step?: string): void;
}
