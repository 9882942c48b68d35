import type { Readable } from 'node:stream';

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date | null;
  readonly contentType: string | null;
}

export interface PutOptions {
  readonly contentType?: string;
  /** Size in bytes when known; S3 needs it for a single-part streamed upload. */
  readonly size?: number;
}

/**
 * A flat key/value store of immutable blobs. Keys are '/'-separated paths without a leading '/'.
 * Missing keys raise VigilError NOT_FOUND from get(); head() returns null.
 */
export interface ObjectStore {
  /** Human-readable location for logs and errors, e.g. `file:///var/vigil/objects` or `s3://bucket/prefix`. */
  readonly description: string;
  put(key: string, body: Readable | Buffer, options?: PutOptions): Promise<ObjectInfo>;
  get(key: string): Promise<Readable>;
  getBuffer(key: string, maxBytes?: number): Promise<Buffer>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  delete(key: string): Promise<void>;
}
