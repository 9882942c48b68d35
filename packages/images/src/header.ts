import { errors } from '@vigil/contracts';
import { readBmpHeader } from './bmp';
import type { ImageFormat } from './formats';

export interface HeaderDimensions {
  readonly width: number;
  readonly height: number;
}

/**
 * Width and height as the file's header declares them, read without decoding anything, so the pixel
 * limit is enforced before a decoder allocates memory for a decompression bomb.
 */
export function readHeaderDimensions(bytes: Uint8Array, format: ImageFormat): HeaderDimensions {
  switch (format) {
    case 'png':
      return pngDimensions(bytes);
    case 'jpeg':
      return jpegDimensions(bytes);
    case 'tiff':
      return tiffDimensions(bytes);
    case 'bmp': {
      const { width, height } = readBmpHeader(bytes);
      return { width, height };
    }
  }
}

function invalid(format: string, message: string, truncated = false) {
  return errors.invalidImage(`invalid ${format}: ${message}`, { format: format.toLowerCase(), truncated });
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function pngDimensions(bytes: Uint8Array): HeaderDimensions {
  if (bytes.length < 24) throw invalid('PNG', 'file ends inside the IHDR header', true);
  const v = view(bytes);
  const chunkType = String.fromCharCode(...bytes.subarray(12, 16));
  if (chunkType !== 'IHDR') throw invalid('PNG', `first chunk is '${chunkType}', not IHDR`);
  const width = v.getUint32(16);
  const height = v.getUint32(20);
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff)
    throw invalid('PNG', `IHDR declares invalid dimensions ${width}×${height}`);
  return { width, height };
}

/** SOF0–SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but are not frames. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function jpegDimensions(bytes: Uint8Array): HeaderDimensions {
  const v = view(bytes);
  let i = 2;
  while (i < bytes.length) {
    if (bytes[i] !== 0xff) throw invalid('JPEG', `expected a marker at byte ${i}`);
    while (i < bytes.length && bytes[i] === 0xff) i++;
    if (i >= bytes.length) break;
    const marker = bytes[i]!;
    i++;
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) continue;
    if (marker === 0xd9) throw invalid('JPEG', 'image ends before its frame header');
    if (marker === 0xda) throw invalid('JPEG', 'scan data starts before the frame header');
    if (i + 2 > bytes.length) break;
    const length = v.getUint16(i);
    if (length < 2) throw invalid('JPEG', `segment length ${length} at byte ${i} is invalid`);
    if (isStartOfFrame(marker)) {
      if (i + 7 > bytes.length) break;
      const height = v.getUint16(i + 3);
      const width = v.getUint16(i + 5);
      if (width === 0 || height === 0)
        throw invalid('JPEG', `frame header declares ${width}×${height} (zero-height DNL images are not supported)`);
      return { width, height };
    }
    i += length;
  }
  throw invalid('JPEG', 'file ends before the frame header', true);
}

const TIFF_IMAGE_WIDTH = 256;
const TIFF_IMAGE_LENGTH = 257;
const TIFF_SHORT = 3;
const TIFF_LONG = 4;
const TIFF_LONG8 = 16;

function tiffDimensions(bytes: Uint8Array): HeaderDimensions {
  if (bytes.length < 8) throw invalid('TIFF', 'file ends inside the header', true);
  const little = bytes[0] === 0x49;
  const v = view(bytes);
  const u16 = (at: number) => v.getUint16(at, little);
  const u32 = (at: number) => v.getUint32(at, little);
  const u64 = (at: number) => {
    const value = v.getBigUint64(at, little);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
  };
  const big = u16(2) === 43;
  if (big && (bytes.length < 16 || u16(4) !== 8)) throw invalid('TIFF', 'BigTIFF header is malformed');

  const ifd = big ? u64(8) : u32(4);
  const countSize = big ? 8 : 2;
  const entrySize = big ? 20 : 12;
  if (ifd < 8 || ifd + countSize > bytes.length)
    throw invalid('TIFF', `first image directory at byte ${ifd} lies outside the file`, true);
  const count = big ? u64(ifd) : u16(ifd);
  if (ifd + countSize + count * entrySize > bytes.length)
    throw invalid('TIFF', 'file ends inside the first image directory', true);

  let width = 0;
  let height = 0;
  for (let n = 0; n < count; n++) {
    const at = ifd + countSize + n * entrySize;
    const tag = u16(at);
    if (tag !== TIFF_IMAGE_WIDTH && tag !== TIFF_IMAGE_LENGTH) continue;
    const type = u16(at + 2);
    const valueAt = at + (big ? 12 : 8);
    let value: number;
    if (type === TIFF_SHORT) value = u16(valueAt);
    else if (type === TIFF_LONG) value = u32(valueAt);
    else if (type === TIFF_LONG8 && big) value = u64(valueAt);
    else throw invalid('TIFF', `tag ${tag} has unexpected type ${type}`);
    if (tag === TIFF_IMAGE_WIDTH) width = value;
    else height = value;
  }
  if (width === 0 || height === 0) throw invalid('TIFF', 'first image directory has no valid width and height');
  return { width, height };
}
