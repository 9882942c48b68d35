import { describe, expect, it } from '@jest/globals';
import { ErrorCode, isVigilError, type VigilError } from '@vigil/contracts';
import { parseManifest } from './parse';
import { serializeManifest, type SerializableEntry, type SerializeManifestOptions } from './serialize';

const OPTIONS: SerializeManifestOptions = { jobName: 'vigil-export', creationDate: '2024-05-01T12:00:00.000Z' };

const ENTRIES: SerializableEntry[] = [
  {
    sourceRef: 'training-images/anomaly-1.jpg',
    label: 'anomaly',
    mask: { ref: 'mask-images/anomaly-1.png', classes: [{ name: 'cracked', color: '#23A436' }] },
  },
  {
    sourceRef: 's3://bucket/scratched.png',
    label: 'anomaly',
    mask: {
      ref: 's3://bucket/scratched-mask.png',
      classes: [
        { name: 'scratch', color: '#2ca02c' },
        { name: 'dent', color: '#1f77b4' },
      ],
    },
  },
  { sourceRef: 'vigil://objects/' + 'a'.repeat(64), label: 'anomaly' },
  { sourceRef: 'training-images/normal-1.jpg', label: 'normal' },
  { sourceRef: 'images/ünïcode "quoted".jpg', label: 'normal' },
];

function essentials(entries: readonly SerializableEntry[]): SerializableEntry[] {
  return entries.map(({ sourceRef, label, mask }) => ({ sourceRef, label, ...(mask ? { mask } : {}) }));
}

function serializeError(entries: SerializableEntry[], options: SerializeManifestOptions): VigilError {
  try {
    serializeManifest(entries, options);
  } catch (error) {
    if (isVigilError(error)) return error;
    throw error;
  }
  throw new Error('expected serializeManifest to throw');
}

describe('serializeManifest', () => {
  it('round trips: parse(serialize(x)) gives x back, without warnings', () => {
    const text = serializeManifest(ENTRIES, OPTIONS);
    const { entries, warnings } = parseManifest(text);
    expect(warnings).toEqual([]);
    expect(essentials(entries)).toEqual(ENTRIES);
    expect(entries.map((e) => e.line)).toEqual([1, 2, 3, 4, 5]);
    expect(serializeManifest(entries, OPTIONS)).toBe(text);
  });

  it('round trips with a BACKGROUND class and custom attribute names', () => {
    const options = { ...OPTIONS, backgroundColor: '#ffffff', labelAttribute: 'lbl', maskAttribute: 'seg' };
    const { entries } = parseManifest(serializeManifest(ENTRIES, options));
    expect(essentials(entries)).toEqual(ENTRIES);
  });

  it('writes Lookout-style lines: 1 = anomaly, class-name, segmentation metadata', () => {
    const lines = serializeManifest(ENTRIES.slice(0, 4), { ...OPTIONS, creationDate: new Date(Date.UTC(2024, 4, 1)) })
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines[0]).toEqual({
      'source-ref': 'training-images/anomaly-1.jpg',
      'anomaly-label': 1,
      'anomaly-label-metadata': {
        confidence: 1,
        'job-name': 'labeling-job/vigil-export',
        'class-name': 'anomaly',
        'human-annotated': 'yes',
        'creation-date': '2024-05-01T00:00:00.000Z',
        type: 'groundtruth/image-classification',
      },
      'anomaly-mask-ref': 'mask-images/anomaly-1.png',
      'anomaly-mask-ref-metadata': {
        'internal-color-map': { '0': { 'class-name': 'cracked', 'hex-color': '#23A436' } },
        'job-name': 'labeling-job/vigil-export',
        'human-annotated': 'yes',
        'creation-date': '2024-05-01T00:00:00.000Z',
        type: 'groundtruth/semantic-segmentation',
      },
    });
    expect(lines[2]).not.toHaveProperty('anomaly-mask-ref');
    expect(lines[3]).toMatchObject({ 'anomaly-label': 0, 'anomaly-label-metadata': { 'class-name': 'normal' } });
  });

  it('puts BACKGROUND first in the colour map when asked', () => {
    const [line] = serializeManifest(ENTRIES.slice(1, 2), { ...OPTIONS, backgroundColor: '#ffffff' }).split('\n');
    const parsed = JSON.parse(line!) as { 'anomaly-mask-ref-metadata': { 'internal-color-map': unknown } };
    expect(parsed['anomaly-mask-ref-metadata']['internal-color-map']).toEqual({
      '0': { 'class-name': 'BACKGROUND', 'hex-color': '#ffffff' },
      '1': { 'class-name': 'scratch', 'hex-color': '#2ca02c' },
      '2': { 'class-name': 'dent', 'hex-color': '#1f77b4' },
    });
  });

  it('ends every line with a newline and writes nothing for no entries', () => {
    expect(serializeManifest(ENTRIES, OPTIONS).endsWith('}\n')).toBe(true);
    expect(serializeManifest([], OPTIONS)).toBe('');
  });

  it('refuses entries and options it could not read back', () => {
    const cases: [SerializableEntry[], SerializeManifestOptions, RegExp][] = [
      [[{ sourceRef: ' ', label: 'normal' }], OPTIONS, /entry 0: sourceRef: must not be empty/],
      [[{ sourceRef: 'a', label: 'unlabelled' as 'normal' }], OPTIONS, /entry 0: label/],
      [[{ sourceRef: 'a', label: 'anomaly', mask: { ref: 'm', classes: [] } }], OPTIONS, /at least one defect class/],
      [
        [{ sourceRef: 'a', label: 'anomaly', mask: { ref: 'm', classes: [{ name: 'Background', color: '#000000' }] } }],
        OPTIONS,
        /BACKGROUND is reserved/,
      ],
      [
        [{ sourceRef: 'a', label: 'anomaly', mask: { ref: 'm', classes: [{ name: 'x', color: 'red' }] } }],
        OPTIONS,
        /#RRGGBB/,
      ],
      [[], { ...OPTIONS, labelAttribute: 'x', maskAttribute: 'x' }, /must differ/],
      [[], { ...OPTIONS, labelAttribute: 'x-metadata' }, /end in -metadata/],
      [[], { ...OPTIONS, jobName: ' ' }, /jobName/],
      [[], { ...OPTIONS, creationDate: new Date(Number.NaN) }, /creationDate/],
    ];
    for (const [entries, options, message] of cases) {
      const error = serializeError(entries, options);
      expect(error.code).toBe(ErrorCode.BadUserInput);
      expect(error.message).toMatch(message);
    }
  });
});
