import { describe, expect, it } from '@jest/globals';
import { ErrorCode, isVigilError, type VigilError } from '@vigil/contracts';
import { parseManifest } from './parse';
import { serializeManifest } from './serialize';
import {
  resolveManifestRefs,
  resolveSourceRef,
  type ResolveSourceRefOptions,
  type SourceRefProblem,
} from './source-ref';
import { type ManifestLineError } from './types';

const SHA = 'ab'.repeat(32);

function refError(ref: string, manifest: string, options?: ResolveSourceRefOptions): VigilError {
  try {
    resolveSourceRef(ref, manifest, options);
  } catch (error) {
    if (isVigilError(error)) return error;
    throw error;
  }
  throw new Error(`expected "${ref}" to be refused`);
}

function problemOf(ref: string, manifest: string, options?: ResolveSourceRefOptions): SourceRefProblem {
  const error = refError(ref, manifest, options);
  expect(error.code).toBe(ErrorCode.InvalidManifest);
  expect(error.details.ref).toBe(ref);
  return error.details.problem as SourceRefProblem;
}

describe('resolveSourceRef', () => {
  it('reads S3 refs literally, whatever the manifest location', () => {
    expect(resolveSourceRef('s3://my-bucket/a/b c/../img.jpg', 'manifests/x.manifest')).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      key: 'a/b c/../img.jpg',
    });
    expect(resolveSourceRef('S3://my-bucket/img.jpg', 's3://other/m.manifest')).toEqual({
      kind: 's3',
      bucket: 'my-bucket',
      key: 'img.jpg',
    });
  });

  it('reads object refs as lower-case sha256', () => {
    expect(resolveSourceRef(`vigil://objects/${SHA.toUpperCase()}`, 'm.manifest')).toEqual({
      kind: 'object',
      key: SHA,
    });
  });

  it('joins relative refs to the manifest folder and gives them the manifest kind', () => {
    expect(resolveSourceRef('training-images/a.jpg', 'cookies/template.manifest')).toEqual({
      kind: 'relative',
      path: 'cookies/training-images/a.jpg',
    });
    expect(resolveSourceRef('./a.jpg', 'template.manifest')).toEqual({ kind: 'relative', path: 'a.jpg' });
    expect(resolveSourceRef('images/a.jpg', 's3://bucket/project/manifests/train.manifest')).toEqual({
      kind: 's3',
      bucket: 'bucket',
      key: 'project/manifests/images/a.jpg',
    });
    expect(resolveSourceRef('a.jpg', 's3://bucket/train.manifest')).toEqual({
      kind: 's3',
      bucket: 'bucket',
      key: 'a.jpg',
    });
    expect(resolveSourceRef('img/a.jpg', '/data/cookies/template.manifest')).toEqual({
      kind: 'file',
      path: '/data/cookies/img/a.jpg',
    });
    expect(resolveSourceRef('img/a%20b.jpg', 'file:///data/my%20set/m.manifest')).toEqual({
      kind: 'file',
      path: '/data/my set/img/a%20b.jpg',
    });
  });

  it('allows .. above the manifest folder but not above the bucket or archive root', () => {
    expect(resolveSourceRef('../images/a.jpg', 's3://bucket/project/manifests/m.manifest')).toEqual({
      kind: 's3',
      bucket: 'bucket',
      key: 'project/images/a.jpg',
    });
    expect(resolveSourceRef('../images/a.jpg', 'upload/manifests/m.manifest')).toEqual({
      kind: 'relative',
      path: 'upload/images/a.jpg',
    });
    expect(problemOf('../../a.jpg', 's3://bucket/manifests/m.manifest')).toBe('outside-root');
    expect(problemOf('../a.jpg', 'm.manifest')).toBe('outside-root');
  });

  it('keeps local files inside localRoot', () => {
    const options = { localRoot: '/data/cookies/' };
    expect(resolveSourceRef('img/a.jpg', '/data/cookies/m.manifest', options)).toEqual({
      kind: 'file',
      path: '/data/cookies/img/a.jpg',
    });
    expect(problemOf('../../etc/passwd', '/data/cookies/m.manifest', options)).toBe('outside-root');
    expect(problemOf('/etc/passwd', '/data/cookies/m.manifest', { ...options, allowLocalFiles: true })).toBe(
      'outside-root',
    );
    expect(problemOf('../cookies-evil/a.jpg', '/data/cookies/m.manifest', options)).toBe('outside-root');
  });

  it('accepts absolute paths and file URLs only when allowed', () => {
    expect(problemOf('/etc/passwd', 'm.manifest')).toBe('local-file-not-allowed');
    expect(problemOf('file:///etc/passwd', 'm.manifest')).toBe('local-file-not-allowed');
    const allow = { allowLocalFiles: true };
    expect(resolveSourceRef('/data//x/../a.jpg', 'm.manifest', allow)).toEqual({ kind: 'file', path: '/data/a.jpg' });
    expect(resolveSourceRef('file:///data/a%20b.jpg', 'm.manifest', allow)).toEqual({
      kind: 'file',
      path: '/data/a b.jpg',
    });
    expect(resolveSourceRef('file://localhost/data/a.jpg', 'm.manifest', allow)).toEqual({
      kind: 'file',
      path: '/data/a.jpg',
    });
    expect(problemOf('file://server/share/a.jpg', 'm.manifest', allow)).toBe('invalid-file-url');
    expect(problemOf('file:///data/%E0%A4%A.jpg', 'm.manifest', allow)).toBe('invalid-file-url');
  });

  it('refuses other schemes and malformed refs with a typed problem', () => {
    const cases: [string, string, SourceRefProblem][] = [
      ['http://example.com/a.jpg', 'm.manifest', 'unsupported-scheme'],
      ['https://example.com/a.jpg', 's3://bucket/m.manifest', 'unsupported-scheme'],
      ['gs://bucket/a.jpg', 'm.manifest', 'unsupported-scheme'],
      ['data:image/png;base64,AAAA', 'm.manifest', 'unsupported-scheme'],
      ['C:\\images\\a.jpg', 'm.manifest', 'windows-path'],
      ['\\\\server\\a.jpg', 'm.manifest', 'windows-path'],
      ['', 'm.manifest', 'empty'],
      ['   ', 'm.manifest', 'empty'],
      ['images/', 'm.manifest', 'empty'],
      ['s3://bucket', 'm.manifest', 'invalid-s3-uri'],
      ['s3://bucket/', 'm.manifest', 'invalid-s3-uri'],
      ['s3://b/key', 'm.manifest', 'invalid-s3-uri'],
      ['vigil://objects/abc', 'm.manifest', 'invalid-object-ref'],
      ['vigil://other/' + SHA, 'm.manifest', 'invalid-object-ref'],
      ['a.jpg', `vigil://objects/${SHA}`, 'unresolvable-relative'],
    ];
    for (const [ref, manifest, problem] of cases) expect([ref, problemOf(ref, manifest)]).toEqual([ref, problem]);
    expect(refError('http://example.com/a.jpg', 'm.manifest').message).toBe(
      'ref "http://example.com/a.jpg": http: refs are not supported; use s3://bucket/key, a path relative to the manifest, vigil://objects/<sha256>, or (when allowed) file://',
    );
  });

  it('refuses a bad manifest location as BAD_USER_INPUT', () => {
    for (const location of ['', 'http://x/m.manifest', '../m.manifest', 's3://bucket', 'C:\\m.manifest']) {
      try {
        resolveSourceRef('a.jpg', location);
        throw new Error(`expected "${location}" to be refused`);
      } catch (error) {
        expect(isVigilError(error) && error.code).toBe(ErrorCode.BadUserInput);
      }
    }
  });
});

describe('resolveManifestRefs', () => {
  it('resolves image and mask refs of every entry', () => {
    const text = serializeManifest(
      [
        {
          sourceRef: 'img/a.jpg',
          label: 'anomaly',
          mask: { ref: 'masks/a.png', classes: [{ name: 'c', color: '#00ff00' }] },
        },
        { sourceRef: `vigil://objects/${SHA}`, label: 'normal' },
      ],
      { jobName: 'j', creationDate: '2024-01-01' },
    );
    const resolved = resolveManifestRefs(parseManifest(text).entries, 's3://bucket/set/train.manifest');
    expect(resolved.map((e) => [e.source, e.maskSource])).toEqual([
      [
        { kind: 's3', bucket: 'bucket', key: 'set/img/a.jpg' },
        { kind: 's3', bucket: 'bucket', key: 'set/masks/a.png' },
      ],
      [{ kind: 'object', key: SHA }, undefined],
    ]);
  });

  it('reports every bad ref with its line number in one INVALID_MANIFEST error', () => {
    const text = serializeManifest(
      [
        { sourceRef: 'ok.jpg', label: 'normal' },
        { sourceRef: 'http://x/a.jpg', label: 'normal' },
        {
          sourceRef: 'b.jpg',
          label: 'anomaly',
          mask: { ref: '/etc/m.png', classes: [{ name: 'c', color: '#00ff00' }] },
        },
      ],
      { jobName: 'j', creationDate: '2024-01-01' },
    );
    try {
      resolveManifestRefs(parseManifest(text).entries, 'upload/m.manifest');
      throw new Error('expected resolveManifestRefs to throw');
    } catch (error) {
      if (!isVigilError(error)) throw error;
      expect(error.code).toBe(ErrorCode.InvalidManifest);
      expect((error.details.errors as ManifestLineError[]).map((e) => [e.line, e.problem, e.message])).toEqual([
        [2, 'invalid-source-ref', expect.stringMatching(/^line 2: source-ref: ref "http:\/\/x\/a.jpg": http: refs/)],
        [3, 'invalid-source-ref', expect.stringMatching(/^line 3: mask: ref "\/etc\/m.png": absolute local paths/)],
      ]);
    }
  });
});
