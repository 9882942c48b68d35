import { describe, expect, it } from '@jest/globals';
import { DatasetType, EntryLabel, ErrorCode, Role } from '@vigil/contracts';
import {
  decodeImportFolderPayload,
  decodeImportManifestPayload,
  encodeImportFolderPayload,
  encodeImportManifestPayload,
  type ImportFolderPayload,
  type ImportManifestPayload,
} from './payloads';

const principal = { id: 'key-1', name: 'alice', role: Role.Operator };
const projectId = '6f1c1d1e-2b1a-4c55-9a0e-0d4a3f8b7c21';

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('ImportManifest payloads', () => {
  // Exactly as DatasetImportJobs stored them before the proto contracts.
  const inline = {
    projectId,
    datasetType: 'train',
    manifestText: '{"source-ref":"s3://b/1.png"}',
    allowPartial: false,
    actor: { principal, requestId: 'req-9' },
  };
  const byUri = {
    projectId,
    datasetType: 'test',
    manifestUri: 's3://b/m.manifest',
    baseUri: 's3://b/',
    allowPartial: true,
    actor: { principal },
  };

  it('reads jobs stored before the contracts and writes the same JSON back', () => {
    for (const stored of [inline, byUri]) {
      const payload = decodeImportManifestPayload(stored);
      expect(payload).toEqual(stored);
      expect(encodeImportManifestPayload(payload)).toEqual(stored);
    }
  });

  it('reads an unset allowPartial as false', () => {
    const { allowPartial: _omitted, ...rest } = inline;
    expect(decodeImportManifestPayload(rest).allowPartial).toBe(false);
  });

  it('round-trips what producers build', () => {
    const payload: ImportManifestPayload = {
      projectId,
      datasetType: DatasetType.Test,
      manifestUri: 's3://b/m',
      allowPartial: false,
      actor: { principal },
    };
    expect(decodeImportManifestPayload(encodeImportManifestPayload(payload))).toEqual(payload);
  });

  it.each([
    ['no project', { ...inline, projectId: undefined }],
    ['no dataset type', { ...inline, datasetType: undefined }],
    ['an unknown dataset type', { ...inline, datasetType: 'validation' }],
    ['a non-boolean allowPartial', { ...inline, allowPartial: 'yes' }],
    ['no actor', { ...inline, actor: undefined }],
  ])('refuses a payload with %s as BAD_USER_INPUT', (_what, json) => {
    expect(codeOf(() => decodeImportManifestPayload(JSON.parse(JSON.stringify(json))))).toBe(ErrorCode.BadUserInput);
  });
});

describe('ImportFolder payloads', () => {
  const stored = {
    projectId,
    source: 's3://b/folder',
    datasetType: 'test',
    label: 'normal',
    labelFromFileName: true,
    actor: { principal, requestId: 'req-9' },
  };

  it('reads jobs stored before the contracts and writes the same JSON back', () => {
    const minimal = { projectId, source: 's3://b/folder', actor: { principal } };
    for (const json of [stored, minimal]) {
      const payload = decodeImportFolderPayload(json);
      expect(payload).toEqual(json);
      expect(encodeImportFolderPayload(payload)).toEqual(json);
    }
  });

  it('round-trips what producers build', () => {
    const payload: ImportFolderPayload = {
      projectId,
      source: 's3://b/f',
      label: EntryLabel.Anomaly,
      actor: { principal, requestId: 'r' },
    };
    expect(decodeImportFolderPayload(encodeImportFolderPayload(payload))).toEqual(payload);
  });

  it.each([
    ['no source', { ...stored, source: undefined }],
    ['an unknown label', { ...stored, label: 'maybe' }],
    ['an unknown dataset type', { ...stored, datasetType: 'all' }],
    ['an unknown role', { ...stored, actor: { principal: { ...principal, role: 'root' } } }],
  ])('refuses a payload with %s as BAD_USER_INPUT', (_what, json) => {
    expect(codeOf(() => decodeImportFolderPayload(JSON.parse(JSON.stringify(json))))).toBe(ErrorCode.BadUserInput);
  });
});
