import { Readable } from 'node:stream';
import { ErrorCode, VigilError } from '@vigil/contracts';

export function payloadTooLarge(key: string, maxBytes: number, size?: number): VigilError {
  return new VigilError(ErrorCode.PayloadTooLarge, `object '${key}' is larger than ${maxBytes} bytes`, {
    key,
    maxBytes,
    ...(size === undefined ? {} : { size }),
  });
}

/** Reads a whole stream, giving up (and destroying the stream) as soon as it passes `maxBytes`. */
export async function readBounded(stream: Readable, key: string, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of stream) {
      const buffer = toBuffer(chunk);
      total += buffer.length;
      if (total > maxBytes) throw payloadTooLarge(key, maxBytes);
      chunks.push(buffer);
    }
  } finally {
    if (!stream.destroyed) stream.destroy();
  }
  return Buffer.concat(chunks, total);
}

export function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new VigilError(ErrorCode.BadUserInput, 'object bodies must be streams of bytes', {
    chunkType: typeof chunk,
  });
}

export function assertMaxBytes(maxBytes: number | undefined): number {
  if (maxBytes === undefined) return Number.MAX_SAFE_INTEGER;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new VigilError(ErrorCode.BadUserInput, 'maxBytes must be a non-negative integer', { maxBytes });
  }
  return maxBytes;
}

export function isReadable(value: unknown): value is Readable {
  return value instanceof Readable;
}

/**
 * A body stream may fail before the store starts reading it (e.g. while a directory is created); without
 * a listener that 'error' event would crash the process. The failure still surfaces: reading an errored
 * stream rethrows its error.
 */
export function guardStreamErrors(body: Readable | Buffer): () => void {
  if (Buffer.isBuffer(body)) return () => undefined;
  const ignore = (): void => undefined;
  body.on('error', ignore);
  return () => {
    body.off('error', ignore);
  };
}
