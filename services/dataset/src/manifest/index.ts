export { parseManifest } from './parse';
export { serializeManifest, type SerializableEntry, type SerializeManifestOptions } from './serialize';
export {
  resolveSourceRef,
  resolveManifestRefs,
  SourceRefProblem,
  type SourceLocation,
  type ResolveSourceRefOptions,
  type ResolvedManifestEntry,
} from './source-ref';
export {
  MANIFEST_DEFAULTS,
  ManifestProblem,
  type ManifestEntry,
  type ManifestLabel,
  type ManifestLineError,
  type ManifestMask,
  type ManifestWarning,
  type ManifestWarningCode,
  type ParseManifestOptions,
  type ParsedManifest,
} from './types';
