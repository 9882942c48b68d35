import { ErrorCode, VigilError } from '@vigil/contracts';
import { readArtifact, writeArtifact, type ArtifactHeader } from './artifact';
import { DEFAULT_CONFIG } from './config';
import { decodeHalf, encodeHalf, fromHalf, toHalf } from './float16';

const header: Omit<ArtifactHeader, 'sections'> = {
  format: 'vigil-anomaly-model',
  engineVersion: 'test',
  createdAt: '2024-01-01T00:00:00.000Z',
  backbone: { digest: 'abc', licence: 'MIT', channels: 2, stride: 8 },
  config: {
    ...DEFAULT_CONFIG,
    backbones: [...DEFAULT_CONFIG.backbones],
    layers: [...DEFAULT_CONFIG.layers],
    activationRanges: { 'mnv2-mid/expanded_conv_1/add': [-1.5, 2.25] },
  },
  bank: { rows: 3, dims: 2, dtype: 'float16' },
  threshold: { image: 1, pixel: 1, scale: 0.1, policy: '{"mode":"f1"}' },
  classes: [{ name: 'crack', color: '#23A436' }],
  training: { normals: 3 },
};

describe('float16', () => {
  it('round-trips exactly representable values and rounds to nearest', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 2 ** -24, -0.25]) expect(fromHalf(toHalf(v))).toBe(v);
    expect(fromHalf(toHalf(1 + 2 ** -11))).toBe(1); // tie rounds to even
    expect(fromHalf(toHalf(1e6))).toBe(Infinity);
    const xs = Float32Array.of(0.1, 3.14159, -7.5);
    const back = decodeHalf(encodeHalf(xs));
    back.forEach((v, i) => expect(Math.abs(v - (xs[i] as number))).toBeLessThan(2e-3 * Math.max(1, Math.abs(v))));
  });
});

describe('model artifact', () => {
  const sections = {
    bank: encodeHalf(Float32Array.of(1, 2, 3, 4, 5, 6)),
    neighbours: Int32Array.of(1, 2, 0),
    prototypes: Float32Array.of(0.5, 0.25),
  };

  it('writes and reads back the header and sections', () => {
    const bytes = writeArtifact(header, sections);
    const { header: h, sections: s } = readArtifact(bytes);
    expect(h.threshold).toEqual(header.threshold);
    expect(h.classes).toEqual(header.classes);
    expect(Array.from(decodeHalf(s.bank))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(s.neighbours)).toEqual([1, 2, 0]);
    expect(Array.from(s.prototypes)).toEqual([0.5, 0.25]);
    // reading from an unaligned copy works too
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(readArtifact(shifted.subarray(1)).header.bank.rows).toBe(3);
  });

  const rejects = (bytes: Uint8Array, pattern: RegExp): void => {
    let caught: unknown;
    try {
      readArtifact(bytes);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(VigilError);
    expect((caught as VigilError).code).toBe(ErrorCode.BadUserInput);
    expect((caught as VigilError).message).toMatch(pattern);
  };

  it('carries the anomaly bank of a sharpened model, and refuses one without the other', () => {
    const anomalyBank = encodeHalf(Float32Array.of(7, 8, 9, 10));
    const sharpening = { weight: 2, rows: 2, source: 'masks' as const };
    const { header: h, sections: s } = readArtifact(
      writeArtifact({ ...header, sharpening }, { ...sections, anomalyBank }),
    );
    expect(h.sharpening).toEqual(sharpening);
    expect(Array.from(decodeHalf(s.anomalyBank ?? new Uint16Array(0)))).toEqual([7, 8, 9, 10]);
    expect(() => writeArtifact({ ...header, sharpening }, sections)).toThrow(/anomaly bank/);
    rejects(writeArtifact({ ...header, sharpening: { ...sharpening, rows: 3 } }, { ...sections, anomalyBank }), /size/);
  });

  it('reads a model written before the ICC option as converting profiles, as it was trained', () => {
    const older: Partial<ArtifactHeader['config']> = { ...header.config };
    delete older.iccProfile;
    const bytes = writeArtifact({ ...header, config: older as ArtifactHeader['config'] }, sections);
    expect(readArtifact(bytes).header.config.iccProfile).toBe('convert');
    expect(readArtifact(writeArtifact(header, sections)).header.config.iccProfile).toBe('ignore');
  });

  it('reads a model written before int8 and full-resolution decoding as float and shrunk on load', () => {
    const older: Partial<ArtifactHeader['config']> = { ...header.config };
    delete older.precision;
    delete older.shrinkOnLoad;
    const read = readArtifact(writeArtifact({ ...header, config: older as ArtifactHeader['config'] }, sections));
    expect([read.header.config.precision, read.header.config.shrinkOnLoad]).toEqual(['fp32', true]);
    const current = readArtifact(writeArtifact(header, sections)).header.config;
    expect([current.precision, current.shrinkOnLoad, current.activationRanges]).toEqual([
      'int8',
      false,
      header.config.activationRanges,
    ]);
  });

  it('refuses an int8 model without the activation ranges its network was quantized with', () => {
    const unranged: ArtifactHeader['config'] = { ...header.config };
    delete (unranged as Partial<ArtifactHeader['config']>).activationRanges;
    rejects(writeArtifact({ ...header, config: unranged }, sections), /header is invalid/);
  });

  it('rejects corrupt, truncated, foreign and future-version files with typed errors', () => {
    const bytes = writeArtifact(header, sections);
    const flipped = Uint8Array.from(bytes);
    flipped[bytes.length - 40] = (flipped[bytes.length - 40] as number) ^ 0xff;
    rejects(flipped, /checksum/);
    rejects(bytes.subarray(0, bytes.length - 10), /checksum/);
    rejects(new Uint8Array(0), /too short/);
    rejects(
      new TextEncoder().encode('PK\u0003\u0004 this is a zip file, not a model at all......'),
      /not a Vigil model/,
    );
    const future = Uint8Array.from(bytes);
    new DataView(future.buffer).setUint32(8, 99, true);
    rejects(future, /version 99/);
  });
});
