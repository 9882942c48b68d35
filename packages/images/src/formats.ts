import { ErrorCode, VigilError } from '@vigil/contracts';
import { BMP_HEADER_SIZES } from './bmp';

/** The formats Vigil accepts for inspection. */
export const IMAGE_FORMATS = ['jpeg', 'png', 'tiff', 'bmp'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export const IMAGE_CONTENT_TYPES: Readonly<Record<ImageFormat, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  tiff: 'image/tiff',
  bmp: 'image/bmp',
};

export function isImageFormat(value: unknown): value is ImageFormat {
  return typeof value === 'string' && (IMAGE_FORMATS as readonly string[]).includes(value);
}

/** What the leading bytes say a file is. */
export type SniffResult =
  | { readonly kind: 'supported'; readonly format: ImageFormat }
  | { readonly kind: 'unsupported-image'; readonly name: string }
  | { readonly kind: 'not-an-image'; readonly name: string }
  | { readonly kind: 'unknown' };

type Bytes = Uint8Array;

function startsWith(bytes: Bytes, signature: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + signature.length) return false;
  for (let i = 0; i < signature.length; i++) if (bytes[offset + i] !== signature[i]) return false;
  return true;
}

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

function asciiAt(bytes: Bytes, offset: number, length: number): string {
  if (bytes.length < offset + length) return '';
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

function sniffSupported(bytes: Bytes): ImageFormat | null {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  // Classic TIFF (42) and BigTIFF (43), little- and big-endian.
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) return 'tiff';
  // 'BM' alone is too weak (text can start with it): also require a known bitmap header size.
  if (startsWith(bytes, [0x42, 0x4d]) && bytes.length >= 18) {
    const dibSize = (bytes[14]! | (bytes[15]! << 8) | (bytes[16]! << 16) | (bytes[17]! << 24)) >>> 0;
    if (BMP_HEADER_SIZES.has(dibSize)) return 'bmp';
  }
  return null;
}

const HEIF_BRANDS: Readonly<Record<string, string>> = {
  heic: 'HEIC',
  heix: 'HEIC',
  hevc: 'HEIC',
  heim: 'HEIC',
  heis: 'HEIC',
  mif1: 'HEIF',
  msf1: 'HEIF',
  avif: 'AVIF',
  avis: 'AVIF',
};

function sniffUnsupportedImage(bytes: Bytes): string | null {
  if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) return 'GIF';
  if (startsWith(bytes, ascii('RIFF')) && asciiAt(bytes, 8, 4) === 'WEBP') return 'WebP';
  if (asciiAt(bytes, 4, 4) === 'ftyp') {
    const brand = HEIF_BRANDS[asciiAt(bytes, 8, 4)];
    if (brand) return brand;
  }
  if (
    startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]) ||
    startsWith(bytes, [0xff, 0x4f, 0xff, 0x51])
  )
    return 'JPEG 2000';
  if (startsWith(bytes, [0xff, 0x0a]) || startsWith(bytes, [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20]))
    return 'JPEG XL';
  if (startsWith(bytes, [0x00, 0x00, 0x01, 0x00]) && bytes.length >= 6 && bytes[4]! + bytes[5]! > 0) return 'ICO';
  if (startsWith(bytes, ascii('8BPS'))) return 'Photoshop (PSD)';
  if (startsWith(bytes, [0x76, 0x2f, 0x31, 0x01])) return 'OpenEXR';
  if (startsWith(bytes, ascii('qoif'))) return 'QOI';
  if (asciiAt(bytes, 128, 4) === 'DICM') return 'DICOM';
  if (bytes.length >= 3 && bytes[0] === 0x50 && bytes[1]! >= 0x31 && bytes[1]! <= 0x37 && isSpace(bytes[2]!))
    return 'Netpbm (PBM/PGM/PPM)';
  return null;
}

function isSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

const NON_IMAGE_SIGNATURES: ReadonlyArray<{ readonly name: string; readonly signature: readonly number[] }> = [
  { name: 'a PDF document', signature: ascii('%PDF-') },
  { name: 'a ZIP archive', signature: [0x50, 0x4b, 0x03, 0x04] },
  { name: 'an empty ZIP archive', signature: [0x50, 0x4b, 0x05, 0x06] },
  { name: 'a gzip archive', signature: [0x1f, 0x8b] },
  { name: 'a 7-Zip archive', signature: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c] },
  { name: 'a RAR archive', signature: ascii('Rar!\x1a\x07') },
  { name: 'a bzip2 archive', signature: ascii('BZh') },
  { name: 'an xz archive', signature: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { name: 'a zstd archive', signature: [0x28, 0xb5, 0x2f, 0xfd] },
  { name: 'an ELF executable', signature: [0x7f, 0x45, 0x4c, 0x46] },
  { name: 'a WebAssembly module', signature: [0x00, 0x61, 0x73, 0x6d] },
  { name: 'an SQLite database', signature: ascii('SQLite format 3\0') },
  { name: 'a Parquet file', signature: ascii('PAR1') },
  { name: 'a NumPy array', signature: [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] },
  { name: 'an Ogg media file', signature: ascii('OggS') },
  { name: 'an MP3 audio file', signature: ascii('ID3') },
  { name: 'a Windows executable', signature: ascii('MZ') },
];

function sniffNonImage(bytes: Bytes): string | null {
  if (bytes.length === 0) return 'an empty file';
  for (const { name, signature } of NON_IMAGE_SIGNATURES) if (startsWith(bytes, signature)) return name;
  if (startsWith(bytes, ascii('RIFF'))) {
    const type = asciiAt(bytes, 8, 4);
    if (type === 'WAVE') return 'a WAV audio file';
    if (type === 'AVI ') return 'an AVI video';
  }
  if (asciiAt(bytes, 4, 4) === 'ftyp') return 'an MP4/QuickTime video';
  if (asciiAt(bytes, 257, 5) === 'ustar') return 'a tar archive';
  return sniffText(bytes);
}

/** Text files get a more specific name when the first characters give it away. */
function sniffText(bytes: Bytes): string | null {
  let sample = bytes.subarray(0, 1024);
  if (startsWith(sample, [0xef, 0xbb, 0xbf])) sample = sample.subarray(3);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(sample);
  } catch {
    // A multi-byte character cut at the sample's end is still text; anything else is binary.
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(sample.subarray(0, Math.max(0, sample.length - 3)));
    } catch {
      return null;
    }
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(text)) return null;
  const head = text.trimStart().slice(0, 256).toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && text.toLowerCase().includes('<svg')))
    return 'an SVG drawing (SVG is not supported for inspection)';
  if (head.startsWith('<!doctype html') || head.startsWith('<html')) return 'an HTML document';
  if (head.startsWith('<?xml')) return 'an XML document';
  if (head.startsWith('{') || head.startsWith('[')) return 'JSON or other text';
  return 'a text file';
}

/** Identifies bytes by their content alone; a file's name or declared type is never consulted. */
export function sniff(bytes: Uint8Array): SniffResult {
  const format = sniffSupported(bytes);
  if (format) return { kind: 'supported', format };
  const unsupported = sniffUnsupportedImage(bytes);
  if (unsupported) return { kind: 'unsupported-image', name: unsupported };
  const other = sniffNonImage(bytes);
  if (other) return { kind: 'not-an-image', name: other };
  return { kind: 'unknown' };
}

/** The real format of the bytes from their magic numbers, or null when it is not one we accept. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  return sniffSupported(bytes);
}

const SUPPORTED_LIST = 'JPEG, PNG, TIFF or BMP';

/** The format of the bytes, or UNSUPPORTED_MEDIA_TYPE saying what they look like instead. */
export function requireSupportedFormat(bytes: Uint8Array): ImageFormat {
  const result = sniff(bytes);
  switch (result.kind) {
    case 'supported':
      return result.format;
    case 'unsupported-image':
      throw new VigilError(
        ErrorCode.UnsupportedMediaType,
        `${result.name} images are not supported for inspection; convert to ${SUPPORTED_LIST}`,
        { detected: result.name },
      );
    case 'not-an-image':
      throw new VigilError(
        ErrorCode.UnsupportedMediaType,
        `not an image: the content looks like ${result.name}; expected ${SUPPORTED_LIST}`,
        { detected: result.name },
      );
    case 'unknown':
      throw new VigilError(
        ErrorCode.UnsupportedMediaType,
        `not a recognised image: the content matches no known format; expected ${SUPPORTED_LIST}`,
        { detected: null },
      );
  }
}
