import { Readable } from 'node:stream';
import { ErrorCode, VigilError, errors } from '@vigil/contracts';
import type { ObjectInfo, ObjectStore, PutOptions } from '@vigil/storage';

interface StoredObject {
  readonly bytes: Buffer;
  readonly info: ObjectInfo;
}

/** An ObjectStore in a Map, for tests. Counts calls so tests can assert what was (not) written. */
export class InMemoryObjectStore implements ObjectStore {
  readonly description = 'memory://';
  readonly objects = new Map<string, StoredObject>();
  puts = 0;

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<ObjectInfo> {
    const bytes = Buffer.isBuffer(body) ? Buffer.from(body) : await collect(body);
    const info: ObjectInfo = {
      key,
      size: bytes.length,
      lastModified: new Date(0),
      contentType: options.contentType ?? null,
    };
    this.objects.set(key, { bytes, info });
    this.puts++;
    return info;
  }

  async get(key: string): Promise<Readable> {
    return Readable.from([this.require(key).bytes]);
  }

  async getBuffer(key: string, maxBytes?: number): Promise<Buffer> {
    const { bytes } = this.require(key);
    if (maxBytes !== undefined && bytes.length > maxBytes)
      throw new VigilError(ErrorCode.PayloadTooLarge, `object '${key}' is larger than ${maxBytes} bytes`);
    return Buffer.from(bytes);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    return this.objects.get(key)?.info ?? null;
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const keys = [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
    for (const key of keys) yield this.objects.get(key)!.info;
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  private require(key: string): StoredObject {
    const found = this.objects.get(key);
    if (!found) throw errors.notFound('object', key);
    return found;
  }
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
