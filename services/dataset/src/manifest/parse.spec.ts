import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ErrorCode, isVigilError, type VigilError } from '@vigil/contracts';
import { parseManifest } from './parse';
import { resolveManifestRefs } from './source-ref';
import { type ManifestLineError } from './types';

// Four lines copied verbatim from the cookies sample's template.manifest (CC BY-SA 4.0, Amazon.com, Inc.).
const COOKIES_LINES = [
  '{"source-ref": "training-images/anomaly-1.jpg", "anomaly-label-metadata": {"job-name": "anomaly-label", "class-name": "anomaly", "human-annotated": "yes", "creation-date": "2022-08-22T20:52:51.851Z", "type": "groundtruth/image-classification"}, "anomaly-label": 1, "anomaly-mask-ref-metadata": {"internal-color-map": {"0": {"class-name": "cracked", "hex-color": "#23A436"}}, "job-name": "labeling-job/object-mask-ref", "human-annotated": "yes", "creation-date": "Mon Aug 22 2022 13:52:52 GMT-0700 (Pacific Daylight Time)", "type": "groundtruth/semantic-segmentation"}, "anomaly-mask-ref": "mask-images/anomaly-1.png"}',
  '{"source-ref": "training-images/anomaly-2.jpg", "anomaly-label-metadata": {"job-name": "anomaly-label", "class-name": "anomaly", "human-annotated": "yes", "creation-date": "2022-08-22T21:11:39.545Z", "type": "groundtruth/image-classification"}, "anomaly-label": 1, "anomaly-mask-ref-metadata": {"internal-color-map": {"0": {"class-name": "cracked", "hex-color": "#23A436"}}, "job-name": "labeling-job/object-mask-ref", "human-annotated": "yes", "creation-date": "Mon Aug 22 2022 14:11:40 GMT-0700 (Pacific Daylight Time)", "type": "groundtruth/semantic-segmentation"}, "anomaly-mask-ref": "mask-images/anomaly-2.png"}',
  '{"source-ref": "training-images/normal-1.jpg", "anomaly-label-metadata": {"confidence": 1, "job-name": "labeling-job/auto-label", "class-name": "normal", "human-annotated": "yes", "creation-date": "2022-08-22T20:49:51.427", "type": "groundtruth/image-classification"}, "anomaly-label": 0}',
  '{"source-ref": "training-images/normal-2.jpg", "anomaly-label-metadata": {"confidence": 1, "job-name": "labeling-job/auto-label", "class-name": "normal", "human-annotated": "yes", "creation-date": "2022-08-22T20:49:51.427", "type": "groundtruth/image-classification"}, "anomaly-label": 0}',
];

const REPO_ROOT = resolve(__dirname, '../../../..');
const COOKIES_DIR = resolve(REPO_ROOT, '../shared/datasets/cookies');
const COOKIES_MANIFEST = resolve(COOKIES_DIR, 'template.manifest');
const haveCookies = existsSync(COOKIES_MANIFEST);
if (!haveCookies) {
  console.warn(`Skipping the full cookies manifest test: ${COOKIES_MANIFEST} is absent (see /work/shared/datasets).`);
}

/** A classification line as the Lookout seed walkthrough script writes it. */
function walkthroughLine(ref: string, value: unknown, className: string, attribute = 'auto-label'): string {
  return JSON.stringify({
    'source-ref': ref,
    [attribute]: value,
    [`${attribute}-metadata`]: {
      confidence: 1,
      'job-name': `labeling-job/${attribute}`,
      'class-name': className,
      'human-annotated': 'yes',
      'creation-date': '2021-01-01T00:00:00.000Z',
      type: 'groundtruth/image-classification',
    },
  });
}

function good(ref: string, label: 0 | 1 = 0): string {
  return walkthroughLine(ref, label, label === 1 ? 'anomaly' : 'normal', 'anomaly-label');
}

function parseError(text: string, options?: Parameters<typeof parseManifest>[1]): VigilError {
  try {
    parseManifest(text, options);
  } catch (error) {
    if (isVigilError(error)) return error;
    throw error;
  }
  throw new Error('expected parseManifest to throw');
}

function lineErrors(error: VigilError): ManifestLineError[] {
  return error.details.errors as ManifestLineError[];
}

describe('parseManifest: segmentation form (cookies)', () => {
  it('parses real cookies lines with label, mask and defect classes', () => {
    const { entries, warnings } = parseManifest(`${COOKIES_LINES.join('\n')}\n`);
    expect(warnings).toEqual([]);
    expect(entries.map(({ line, sourceRef, label, mask }) => ({ line, sourceRef, label, mask }))).toEqual([
      {
        line: 1,
        sourceRef: 'training-images/anomaly-1.jpg',
        label: 'anomaly',
        mask: { ref: 'mask-images/anomaly-1.png', classes: [{ name: 'cracked', color: '#23A436' }] },
      },
      {
        line: 2,
        sourceRef: 'training-images/anomaly-2.jpg',
        label: 'anomaly',
        mask: { ref: 'mask-images/anomaly-2.png', classes: [{ name: 'cracked', color: '#23A436' }] },
      },
      { line: 3, sourceRef: 'training-images/normal-1.jpg', label: 'normal', mask: undefined },
      { line: 4, sourceRef: 'training-images/normal-2.jpg', label: 'normal', mask: undefined },
    ]);
    expect(entries[2]).not.toHaveProperty('mask');
    expect(entries[0]?.raw['anomaly-label']).toBe(1);
  });

  (haveCookies ? it : it.skip)('parses the full real cookies manifest and its refs resolve to files', () => {
    const { entries, warnings } = parseManifest(readFileSync(COOKIES_MANIFEST, 'utf8'));
    expect(warnings).toEqual([]);
    expect(entries).toHaveLength(63);
    expect(entries.filter((e) => e.label === 'normal')).toHaveLength(31);
    expect(entries.filter((e) => e.label === 'anomaly')).toHaveLength(32);
    const masked = entries.filter((e) => e.mask);
    expect(masked).toHaveLength(32);
    expect(masked.every((e) => e.label === 'anomaly')).toBe(true);
    expect(new Set(masked.flatMap((e) => e.mask?.classes.map((c) => `${c.name} ${c.color}`)))).toEqual(
      new Set(['cracked #23A436']),
    );

    const resolved = resolveManifestRefs(entries, COOKIES_MANIFEST);
    for (const entry of resolved) {
      expect(entry.source.kind).toBe('file');
      if (entry.source.kind === 'file') expect(existsSync(entry.source.path)).toBe(true);
      if (entry.maskSource?.kind === 'file') expect(existsSync(entry.maskSource.path)).toBe(true);
    }
  });

  it('finds the mask under any attribute name and drops the BACKGROUND class (Lookout docs form)', () => {
    const line = JSON.stringify({
      'source-ref': 's3://bucket/img.jpg',
      'defect-label': 1,
      'defect-label-metadata': { 'class-name': 'anomaly', type: 'groundtruth/image-classification' },
      'my-mask': 's3://bucket/mask.png',
      'my-mask-metadata': {
        'internal-color-map': {
          '0': { 'class-name': 'BACKGROUND', 'hex-color': '#ffffff', confidence: 0.0 },
          '2': { 'class-name': 'dent', 'hex-color': '#1f77b4', confidence: 0.0 },
          '1': { 'class-name': 'scratch', 'hex-color': '#2ca02c', confidence: 0.0 },
        },
        type: 'groundtruth/semantic-segmentation',
      },
    });
    const [entry] = parseManifest(line).entries;
    expect(entry?.mask).toEqual({
      ref: 's3://bucket/mask.png',
      classes: [
        { name: 'scratch', color: '#2ca02c' },
        { name: 'dent', color: '#1f77b4' },
      ],
    });
  });

  it('warns when a defect class changes colour between lines, once per colour', () => {
    const withColor = (ref: string, color: string): string =>
      COOKIES_LINES[0]!.replace('#23A436', color).replace('training-images/anomaly-1.jpg', ref);
    const text = [withColor('a.jpg', '#23A436'), withColor('b.jpg', '#FF0000'), withColor('c.jpg', '#ff0000')].join(
      '\n',
    );
    const { warnings } = parseManifest(text);
    expect(warnings).toEqual([
      expect.objectContaining({
        code: 'inconsistent-class-color',
        line: 2,
        className: 'cracked',
        color: '#FF0000',
        firstColor: '#23A436',
        firstLine: 1,
      }),
    ]);
  });

  it('keeps a mask on a normal image with a warning', () => {
    const line = COOKIES_LINES[0]!
      .replace('"anomaly-label": 1', '"anomaly-label": 0')
      .replace('"class-name": "anomaly"', '"class-name": "normal"');
    const { entries, warnings } = parseManifest(line);
    expect(entries[0]?.label).toBe('normal');
    expect(entries[0]?.mask?.ref).toBe('mask-images/anomaly-1.png');
    expect(warnings).toEqual([expect.objectContaining({ code: 'mask-on-normal', line: 1 })]);
  });
});

describe('parseManifest: classification form (seed walkthrough)', () => {
  it('lets class-name win over the number and warns on each conflict', () => {
    const text = [
      walkthroughLine('s3://b/normal/1.jpg', 1, 'normal'),
      walkthroughLine('s3://b/anomaly/1.jpg', 0, 'anomaly'),
      walkthroughLine('s3://b/normal/2.jpg', 1, 'normal'),
    ].join('\n');
    const { entries, warnings } = parseManifest(text);
    expect(entries.map((e) => e.label)).toEqual(['normal', 'anomaly', 'normal']);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toEqual({
      code: 'label-conflict',
      line: 1,
      attribute: 'auto-label',
      value: 1,
      valueMeans: 'anomaly',
      className: 'normal',
      label: 'normal',
      message: 'line 1: "auto-label": 1 means anomaly but class-name says "normal"; using normal',
    });
    expect(warnings[1]).toMatchObject({ line: 2, value: 0, valueMeans: 'normal', className: 'anomaly' });
    expect(warnings[2]).toMatchObject({ line: 3 });
  });

  it('accepts class-names in any case, and good for normal, without warnings when they agree', () => {
    const text = [
      walkthroughLine('a.jpg', 0, 'Normal'),
      walkthroughLine('b.jpg', 0, 'GOOD'),
      walkthroughLine('c.jpg', 1, ' Anomaly '),
    ].join('\n');
    const { entries, warnings } = parseManifest(text);
    expect(entries.map((e) => e.label)).toEqual(['normal', 'normal', 'anomaly']);
    expect(warnings).toEqual([]);
  });

  it('uses the number (1 = anomaly) when the class-name is missing or unrecognised', () => {
    const noClassName = JSON.stringify({
      'source-ref': 'a.jpg',
      x: 1,
      'x-metadata': { type: 'groundtruth/image-classification' },
    });
    const { entries, warnings } = parseManifest([noClassName, walkthroughLine('b.jpg', 0, 'cracked')].join('\n'));
    expect(entries.map((e) => e.label)).toEqual(['anomaly', 'normal']);
    expect(warnings).toEqual([
      expect.objectContaining({
        code: 'unrecognised-class-name',
        line: 2,
        className: 'cracked',
        attribute: 'auto-label',
      }),
    ]);
  });

  it('prefers anomaly-label when several classification attributes exist, and honours labelAttribute', () => {
    const line = JSON.stringify({
      'source-ref': 'a.jpg',
      'anomaly-label': 1,
      'anomaly-label-metadata': { 'class-name': 'anomaly', type: 'groundtruth/image-classification' },
      other: 0,
      'other-metadata': { 'class-name': 'normal', type: 'groundtruth/image-classification' },
    });
    expect(parseManifest(line).entries[0]?.label).toBe('anomaly');
    expect(parseManifest(line, { labelAttribute: 'other' }).entries[0]?.label).toBe('normal');
  });
});

describe('parseManifest: text handling', () => {
  it('ignores blank lines, counts them in line numbers, and accepts CRLF and a BOM', () => {
    const text = `\uFEFF${good('a.jpg')}\r\n\r\n   \r\n${good('b.jpg', 1)}\r\n`;
    const { entries } = parseManifest(text);
    expect(entries.map((e) => [e.line, e.sourceRef, e.label])).toEqual([
      [1, 'a.jpg', 'normal'],
      [4, 'b.jpg', 'anomaly'],
    ]);
  });

  it('keeps the last line of a duplicated source-ref and warns', () => {
    const text = [good('a.jpg', 0), good('b.jpg', 0), good('a.jpg', 1)].join('\n');
    const { entries, warnings } = parseManifest(text);
    expect(entries.map((e) => [e.line, e.sourceRef, e.label])).toEqual([
      [2, 'b.jpg', 'normal'],
      [3, 'a.jpg', 'anomaly'],
    ]);
    expect(warnings).toEqual([
      expect.objectContaining({ code: 'duplicate-source-ref', line: 3, droppedLine: 1, sourceRef: 'a.jpg' }),
    ]);
  });
});

describe('parseManifest: errors', () => {
  it('names the line of bad JSON (line 40)', () => {
    const lines = Array.from({ length: 45 }, (_, i) => good(`img-${i}.jpg`));
    lines[39] = '{"source-ref": "img-39.jpg", ';
    const error = parseError(lines.join('\n'));
    expect(error.code).toBe(ErrorCode.InvalidManifest);
    expect(error.message).toMatch(/^Invalid manifest: line 40: invalid JSON/);
    expect(lineErrors(error)).toEqual([expect.objectContaining({ line: 40, problem: 'invalid-json' })]);
    expect(error.details).toMatchObject({ errorCount: 1, truncated: false });
  });

  it('collects every problem of the file, each with its line number', () => {
    const text = [
      good('ok.jpg'),
      JSON.stringify({ 'anomaly-label': 0, 'anomaly-label-metadata': { type: 'groundtruth/image-classification' } }),
      JSON.stringify({ 'source-ref': 'no-label.jpg' }),
      JSON.stringify({ 'source-ref': 'no-metadata.jpg', 'anomaly-label': 1 }),
      JSON.stringify({ 'source-ref': 'no-value.jpg', 'x-metadata': { type: 'groundtruth/image-classification' } }),
      good('string.jpg').replace('"anomaly-label":0', '"anomaly-label":"1"'),
      good('two.jpg').replace('"anomaly-label":0', '"anomaly-label":2'),
      '[1, 2]',
      'not json',
      JSON.stringify({
        'source-ref': '',
        'anomaly-label': 7,
        'anomaly-label-metadata': { type: 'groundtruth/image-classification' },
      }),
    ].join('\n');
    const error = parseError(text);
    expect(lineErrors(error).map((e) => [e.line, e.problem])).toEqual([
      [2, 'missing-source-ref'],
      [3, 'missing-label'],
      [4, 'missing-label'],
      [5, 'missing-label'],
      [6, 'invalid-label'],
      [7, 'unknown-label-value'],
      [8, 'not-an-object'],
      [9, 'invalid-json'],
      [10, 'missing-source-ref'],
      [10, 'unknown-label-value'],
    ]);
    const messages = lineErrors(error).map((e) => e.message);
    expect(messages[0]).toBe('line 2: missing "source-ref"');
    expect(messages[2]).toBe(
      'line 4: missing label: "anomaly-label" needs a "anomaly-label-metadata" sibling of type groundtruth/image-classification',
    );
    expect(messages[3]).toBe('line 5: missing label: "x-metadata" is present but "x" is not');
    expect(messages[4]).toBe('line 6: "anomaly-label" must be the number 0 or 1, got "1"');
    expect(messages[5]).toBe(
      'line 7: unknown label value 2 in "anomaly-label": Lookout labels are 1 (anomaly) or 0 (normal)',
    );
    expect(error.message).toBe(
      `Invalid manifest: 10 problems: ${messages.slice(0, 3).join('; ')} (and 7 more; see details.errors)`,
    );
  });

  it('refuses an empty manifest', () => {
    for (const text of ['', '\n', '  \n\r\n']) {
      const error = parseError(text);
      expect(error.message).toBe('Invalid manifest: the manifest has no entries');
      expect(lineErrors(error)).toEqual([
        { line: null, problem: 'empty-manifest', message: 'the manifest has no entries' },
      ]);
    }
  });

  it('refuses a line over the byte cap, counting UTF-8 bytes', () => {
    const long = good('é'.repeat(60)); // 60 characters, 120 bytes
    const error = parseError([good('a.jpg'), long].join('\n'), { maxLineBytes: long.length + 10 });
    expect(lineErrors(error)).toEqual([expect.objectContaining({ line: 2, problem: 'line-too-long' })]);
    expect(error.message).toContain(`line 2: the line is ${Buffer.byteLength(long)} bytes`);
  });

  it('stops at the first line over maxLines', () => {
    const text = ['', good('a.jpg'), good('b.jpg'), good('c.jpg'), 'garbage'].join('\n');
    const error = parseError(text, { maxLines: 2 });
    expect(lineErrors(error)).toEqual([
      { line: 4, problem: 'too-many-lines', message: 'line 4: the manifest has more than 2 lines' },
    ]);
  });

  it('keeps at most maxErrors problems but counts them all', () => {
    const text = Array.from({ length: 120 }, () => '{').join('\n');
    const error = parseError(text);
    expect(lineErrors(error)).toHaveLength(50);
    expect(lineErrors(error)[49]?.line).toBe(50);
    expect(error.details).toMatchObject({ errorCount: 120, truncated: true });
    expect(error.message).toContain('(and 117 more; see details.errors)');
  });

  it('refuses ambiguous labels and masks', () => {
    const twoLabels = JSON.stringify({
      'source-ref': 'a.jpg',
      p: 1,
      'p-metadata': { type: 'groundtruth/image-classification' },
      q: 1,
      'q-metadata': { type: 'groundtruth/image-classification' },
    });
    const twoMasks = JSON.stringify({
      ...JSON.parse(COOKIES_LINES[0]!),
      m2: 'x.png',
      'm2-metadata': {
        'internal-color-map': { '0': { 'class-name': 'x', 'hex-color': '#000001' } },
        type: 'groundtruth/semantic-segmentation',
      },
    });
    expect(lineErrors(parseError([twoLabels, twoMasks].join('\n')))).toEqual([
      expect.objectContaining({ line: 1, problem: 'ambiguous-label' }),
    ]);
    const threeMasks = twoMasks
      .replace('"anomaly-mask-ref"', '"m1"')
      .replace('"anomaly-mask-ref-metadata"', '"m1-metadata"');
    expect(lineErrors(parseError(threeMasks))).toEqual([
      expect.objectContaining({ line: 1, problem: 'ambiguous-mask' }),
    ]);
  });

  it('refuses broken masks with a reason', () => {
    const anomaly = JSON.parse(COOKIES_LINES[0]!) as Record<string, unknown>;
    const withMap = (map: unknown, extra: Record<string, unknown> = {}): string =>
      JSON.stringify({
        ...anomaly,
        'anomaly-mask-ref-metadata': { 'internal-color-map': map, type: 'groundtruth/semantic-segmentation' },
        ...extra,
      });
    const text = [
      withMap({ '0': { 'class-name': 'cracked', 'hex-color': 'green' } }),
      withMap({ '0': { 'class-name': 'BACKGROUND', 'hex-color': '#000000' } }),
      withMap({
        '0': { 'class-name': 'a', 'hex-color': '#000001' },
        '1': { 'class-name': 'A', 'hex-color': '#000002' },
      }),
      withMap({
        '0': { 'class-name': 'a', 'hex-color': '#000001' },
        '1': { 'class-name': 'b', 'hex-color': '#000001' },
      }),
      withMap(undefined),
      withMap({ '0': { 'hex-color': '#000001' } }),
      withMap({ '0': { 'class-name': 'a', 'hex-color': '#000001' } }, { 'anomaly-mask-ref': undefined }),
      withMap('nope'),
    ].join('\n');
    const found = lineErrors(parseError(text));
    expect(found.every((e) => e.problem === 'invalid-mask')).toBe(true);
    expect(found.map((e) => e.message)).toEqual([
      'line 1: "anomaly-mask-ref-metadata".internal-color-map entry "0": a colour is #RRGGBB',
      'line 2: the colour map of "anomaly-mask-ref" has no defect class besides BACKGROUND',
      'line 3: "anomaly-mask-ref-metadata".internal-color-map entry "1": class "A" appears twice',
      'line 4: "anomaly-mask-ref-metadata".internal-color-map entry "1": colour #000001 appears twice',
      'line 5: "anomaly-mask-ref-metadata".internal-color-map is missing',
      expect.stringMatching(/^line 6: "anomaly-mask-ref-metadata".internal-color-map entry "0" class-name: /),
      'line 7: "anomaly-mask-ref-metadata" is present but "anomaly-mask-ref" is not',
      'line 8: "anomaly-mask-ref-metadata".internal-color-map: internal-color-map must be an object',
    ]);
  });
});
