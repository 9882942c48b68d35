/**
 * A minimal uncompressed TIFF writer for tests: either byte order, 8 or 16 bits, grey or RGB, one strip,
 * directory first. sharp only writes little-endian TIFF; line-scan cameras often write big-endian.
 */
export interface TiffSpec {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly bitDepth: 8 | 16;
  /** Samples, top row first, interleaved. */
  readonly samples: ArrayLike<number>;
  readonly byteOrder?: 'little' | 'big';
}

const SHORT = 3;
const LONG = 4;

export function encodeTiff(spec: TiffSpec): Buffer {
  const little = (spec.byteOrder ?? 'little') === 'little';
  const bytesPerSample = spec.bitDepth / 8;
  const stripBytes = spec.width * spec.height * spec.channels * bytesPerSample;
  const entries: Array<[tag: number, type: number, count: number, value: number]> = [
    [256, LONG, 1, spec.width],
    [257, LONG, 1, spec.height],
    [258, SHORT, spec.channels, 0], // BitsPerSample: value or offset, filled below
    [259, SHORT, 1, 1], // no compression
    [262, SHORT, 1, spec.channels === 1 ? 1 : 2], // BlackIsZero or RGB
    [273, LONG, 1, 0], // StripOffsets, filled below
    [277, SHORT, 1, spec.channels],
    [278, LONG, 1, spec.height],
    [279, LONG, 1, stripBytes],
    [284, SHORT, 1, 1], // chunky
  ];
  const ifdOffset = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  const bitsOffset = ifdOffset + ifdSize;
  const bitsSize = spec.channels === 3 ? 6 : 0;
  const stripOffset = bitsOffset + bitsSize;
  const file = Buffer.alloc(stripOffset + stripBytes);
  const u16 = (value: number, at: number) => (little ? file.writeUInt16LE(value, at) : file.writeUInt16BE(value, at));
  const u32 = (value: number, at: number) => (little ? file.writeUInt32LE(value, at) : file.writeUInt32BE(value, at));

  file.write(little ? 'II' : 'MM', 0, 'latin1');
  u16(42, 2);
  u32(ifdOffset, 4);
  u16(entries.length, ifdOffset);
  entries.forEach(([tag, type, count, value], i) => {
    const at = ifdOffset + 2 + i * 12;
    u16(tag, at);
    u16(type, at + 2);
    u32(count, at + 4);
    if (tag === 258 && spec.channels === 3) u32(bitsOffset, at + 8);
    else if (tag === 258) u16(spec.bitDepth, at + 8);
    else if (tag === 273) u32(stripOffset, at + 8);
    else if (type === SHORT) u16(value, at + 8);
    else u32(value, at + 8);
  });
  u32(0, ifdOffset + 2 + entries.length * 12);
  if (spec.channels === 3) for (let c = 0; c < 3; c++) u16(spec.bitDepth, bitsOffset + c * 2);
  for (let i = 0; i < spec.samples.length; i++) {
    const at = stripOffset + i * bytesPerSample;
    if (bytesPerSample === 1) file[at] = spec.samples[i]!;
    else u16(spec.samples[i]!, at);
  }
  return file;
}
