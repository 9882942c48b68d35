import { describe, expect, it } from '@jest/globals';
import { ErrorCode, VigilError } from '@vigil/contracts';
import { requireSupportedFormat, sniff, sniffFormat } from './formats';
import { exifRotatedJpeg, syntheticImage } from './testing';

function errorOf(run: () => unknown): VigilError {
  try {
    run();
  } catch (error) {
    if (error instanceof VigilError) return error;
    throw error;
  }
  throw new Error('expected a VigilError');
}

describe('sniffFormat', () => {
  it.each(['png', 'jpeg', 'tiff', 'bmp'] as const)('recognises %s from its bytes', async (format) => {
    expect(sniffFormat(await syntheticImage({ format }))).toBe(format);
  });

  it('recognises big-endian TIFF and both byte orders of BigTIFF', () => {
    expect(sniffFormat(Buffer.from([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]))).toBe('tiff');
    expect(sniffFormat(Buffer.from([0x49, 0x49, 0x2b, 0x00, 8, 0, 0, 0]))).toBe('tiff');
    expect(sniffFormat(Buffer.from([0x4d, 0x4d, 0x00, 0x2b, 0, 8, 0, 0]))).toBe('tiff');
  });

  it('recognises an EXIF JPEG', async () => {
    expect(sniffFormat(await exifRotatedJpeg())).toBe('jpeg');
  });

  it('does not take text starting with BM for a bitmap', () => {
    expect(sniffFormat(Buffer.from('BMW service manual, chapter one'))).toBeNull();
  });

  it('returns null for anything else', () => {
    expect(sniffFormat(Buffer.from('GIF89a'))).toBeNull();
    expect(sniffFormat(Buffer.alloc(0))).toBeNull();
  });
});

describe('requireSupportedFormat', () => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['plain text', Buffer.from('hello, this is not an image\n'), /looks like a text file/],
    ['JSON', Buffer.from('{"image": "no"}'), /JSON/],
    ['HTML', Buffer.from('<!DOCTYPE html><html></html>'), /HTML document/],
    ['a ZIP archive', Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00]), /ZIP archive/],
    ['a PDF', Buffer.from('%PDF-1.7\n%\xe2\xe3'), /PDF document/],
    ['gzip', Buffer.from([0x1f, 0x8b, 0x08, 0x00]), /gzip/],
    ['an empty file', Buffer.alloc(0), /empty file/],
    ['SVG', Buffer.from('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>'), /SVG/],
    ['unknown binary', Buffer.from([0x00, 0x01, 0x02, 0x03, 0xfe, 0xff, 0x10, 0x80]), /matches no known format/],
  ];

  it.each(cases)('rejects %s as UNSUPPORTED_MEDIA_TYPE naming it', (_name, bytes, message) => {
    const error = errorOf(() => requireSupportedFormat(bytes));
    expect(error.code).toBe(ErrorCode.UnsupportedMediaType);
    expect(error.message).toMatch(message);
  });

  it.each([
    ['GIF', Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1')],
    ['WebP', Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x20, 0, 0, 0]), Buffer.from('WEBPVP8 ')])],
    ['HEIC', Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic')])],
    ['AVIF', Buffer.concat([Buffer.from([0, 0, 0, 0x1c]), Buffer.from('ftypavif')])],
  ])('rejects %s images as not supported for inspection', (name, bytes) => {
    const error = errorOf(() => requireSupportedFormat(bytes));
    expect(error.code).toBe(ErrorCode.UnsupportedMediaType);
    expect(error.message).toBe(`${name} images are not supported for inspection; convert to JPEG, PNG, TIFF or BMP`);
    expect(sniff(bytes)).toEqual({ kind: 'unsupported-image', name });
  });

  it('returns the real format whatever the file is called', async () => {
    // Callers never pass a name: a BMP saved as .png is still a BMP.
    expect(requireSupportedFormat(await syntheticImage({ format: 'bmp' }))).toBe('bmp');
  });
});
