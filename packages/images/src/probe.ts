import type { ImageFormat } from './formats';
import type { ImageLimits } from './limits';
import { openImage, type BitDepth } from './source';

export interface ImageProbe {
  /** From the bytes' magic numbers; the file name is never consulted. */
  readonly format: ImageFormat;
  readonly byteSize: number;
  /** As stored, before EXIF orientation. */
  readonly width: number;
  readonly height: number;
  /** EXIF/TIFF orientation tag, 1 (upright) to 8. */
  readonly orientation: number;
  /** As displayed and as `decodeImage` returns it: orientations 5–8 swap width and height. */
  readonly orientedWidth: number;
  readonly orientedHeight: number;
  /** Samples per pixel that `decodeImage` returns by default: 1 or 3, plus 1 for alpha. CMYK counts as 3. */
  readonly channels: 1 | 2 | 3 | 4;
  readonly bitDepth: BitDepth;
  readonly hasAlpha: boolean;
  /** Stored as a single grey channel (plus alpha); an RGB file whose channels happen to be equal is not. */
  readonly isGreyscale: boolean;
}

/**
 * Identifies and fully validates an image: format from the bytes, byte limit, pixel limit from the header
 * before any decoding, then every pixel decoded once. Throws UNSUPPORTED_MEDIA_TYPE, IMAGE_TOO_LARGE or
 * INVALID_IMAGE.
 */
export async function probeImage(bytes: Uint8Array, limits?: Partial<ImageLimits>): Promise<ImageProbe> {
  const image = await openImage(bytes, limits);
  await image.validate();
  const { info } = image;
  const colourChannels = info.isGreyscale ? 1 : 3;
  return {
    format: info.format,
    byteSize: info.byteSize,
    width: info.width,
    height: info.height,
    orientation: info.orientation,
    orientedWidth: info.orientedWidth,
    orientedHeight: info.orientedHeight,
    channels: (colourChannels + (info.hasAlpha ? 1 : 0)) as ImageProbe['channels'],
    bitDepth: info.bitDepth,
    hasAlpha: info.hasAlpha,
    isGreyscale: info.isGreyscale,
  };
}
