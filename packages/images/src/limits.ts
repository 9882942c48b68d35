import { ErrorCode, VigilError, errors } from '@vigil/contracts';

/**
 * How strict decoding is, in sharp's terms: 'warning' (default) rejects anything libjpeg/libpng/libtiff
 * complains about, 'error' tolerates warnings such as stray bytes between JPEG segments, 'truncated'
 * only rejects incomplete data.
 */
export type DecodeStrictness = 'warning' | 'error' | 'truncated';

export interface ImageLimits {
  /** Largest width × height accepted, checked from the header before any pixel is decoded. */
  readonly maxPixels: number;
  /** Largest encoded file accepted, in bytes. */
  readonly maxBytes: number;
  readonly failOn: DecodeStrictness;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = {
  maxPixels: 100_000_000,
  maxBytes: 256 * 1024 * 1024,
  failOn: 'warning',
};

export function resolveLimits(limits: Partial<ImageLimits> | undefined): ImageLimits {
  const resolved = { ...DEFAULT_IMAGE_LIMITS, ...stripUndefined(limits ?? {}) };
  if (!Number.isSafeInteger(resolved.maxPixels) || resolved.maxPixels < 1)
    throw errors.badInput('image limit maxPixels must be a positive integer', { maxPixels: resolved.maxPixels });
  if (!Number.isSafeInteger(resolved.maxBytes) || resolved.maxBytes < 1)
    throw errors.badInput('image limit maxBytes must be a positive integer', { maxBytes: resolved.maxBytes });
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function assertByteLimit(byteSize: number, limits: ImageLimits): void {
  if (byteSize > limits.maxBytes)
    throw new VigilError(
      ErrorCode.ImageTooLarge,
      `image file is ${byteSize} bytes; the limit is ${limits.maxBytes} bytes`,
      { reason: 'bytes', byteSize, maxBytes: limits.maxBytes },
    );
}

export function assertPixelLimit(width: number, height: number, limits: Pick<ImageLimits, 'maxPixels'>): void {
  const pixels = width * height;
  if (pixels > limits.maxPixels)
    throw new VigilError(
      ErrorCode.ImageTooLarge,
      `image is ${width}×${height} (${pixels} pixels); the limit is ${limits.maxPixels} pixels`,
      { reason: 'pixels', width, height, pixels, maxPixels: limits.maxPixels },
    );
}
