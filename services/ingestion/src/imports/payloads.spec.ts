import { describe, expect, it } from '@jest/globals';
import { ErrorCode, Role } from '@vigil/contracts';
import { decodeImportImagesPayload, encodeImportImagesPayload, type ImportImagesPayload } from './payloads';

const principal = { id: 'key-1', name: 'alice', role: Role.Operator };

/** A payload exactly as ImageImportJobs stored it before the proto contracts (zod, then JSON). */
const storedBeforeContracts = {
  source: 's3://bucket/in',
  metadata: { line: 'L1', tags: ['a'], capturedAt: '2024-01-01T00:00:00.000Z' },
  actor: { principal, requestId: 'req-3' },
};

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('ImportImages payloads', () => {
  it('reads jobs stored before the contracts', () => {
    expect(decodeImportImagesPayload(storedBeforeContracts)).toEqual({
      source: 's3://bucket/in',
      metadata: { line: 'L1', tags: ['a'], capturedAt: new Date('2024-01-01T00:00:00Z') },
      actor: { principal, requestId: 'req-3' },
    });
  });

  it('writes the same JSON shape as before, and reads back what it wrote', () => {
    const payload: ImportImagesPayload = {
      source: 's3://bucket/in',
      metadata: { line: 'L1', tags: ['a'], capturedAt: new Date('2024-01-01T00:00:00Z') },
      actor: { principal, requestId: 'req-3' },
    };
    const json = encodeImportImagesPayload(payload);
    expect(json).toEqual({
      ...storedBeforeContracts,
      metadata: { ...storedBeforeContracts.metadata, capturedAt: '2024-01-01T00:00:00Z' },
    });
    expect(decodeImportImagesPayload(json)).toEqual(payload);
    const bare = { source: 's3://b/p', actor: { principal } };
    expect(encodeImportImagesPayload(bare)).toEqual(bare);
    expect(decodeImportImagesPayload(encodeImportImagesPayload(bare))).toEqual(bare);
  });

  it.each([
    ['no actor', { source: 's3://b/p' }],
    ['an unknown role', { source: 's3://b/p', actor: { principal: { ...principal, role: 'root' } } }],
    ['no source', { actor: { principal } }],
    ['a non-string source', { source: 5, actor: { principal } }],
    ['metadata out of bounds', { source: 's3://b/p', metadata: { line: 'x'.repeat(129) }, actor: { principal } }],
    ['not an object', 'folder'],
  ])('refuses a payload with %s as BAD_USER_INPUT', (_what, json) => {
    expect(codeOf(() => decodeImportImagesPayload(json))).toBe(ErrorCode.BadUserInput);
  });
});
