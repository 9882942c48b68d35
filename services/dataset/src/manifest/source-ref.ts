import { posix } from 'node:path';
import { errors, isVigilError, type VigilError } from '@vigil/contracts';
import { ProblemCollector } from './problems';
import { MANIFEST_DEFAULTS, ManifestProblem, type ManifestEntry } from './types';

/** Where an image (or mask) named by a manifest lives. */
export type SourceLocation =
  | { readonly kind: 's3'; readonly bucket: string; readonly key: string }
  /** A posix path relative to the root the manifest's own relative location is relative to (e.g. an archive). */
  | { readonly kind: 'relative'; readonly path: string }
  /** An absolute, normalised local path. */
  | { readonly kind: 'file'; readonly path: string }
  /** An object already in our store, by its sha256 (lower-case hex). */
  | { readonly kind: 'object'; readonly key: string };

export const SourceRefProblem = {
  Empty: 'empty',
  UnsupportedScheme: 'unsupported-scheme',
  WindowsPath: 'windows-path',
  LocalFileNotAllowed: 'local-file-not-allowed',
  OutsideRoot: 'outside-root',
  InvalidS3Uri: 'invalid-s3-uri',
  InvalidObjectRef: 'invalid-object-ref',
  InvalidFileUrl: 'invalid-file-url',
  UnresolvableRelative: 'unresolvable-relative',
} as const;
export type SourceRefProblem = (typeof SourceRefProblem)[keyof typeof SourceRefProblem];

export interface ResolveSourceRefOptions {
  /** Accept `file://` URLs and absolute paths as refs. Off by default: a server must not read arbitrary files. */
  readonly allowLocalFiles?: boolean;
  /** When set (absolute path), every `file` location, however reached, must lie inside it. */
  readonly localRoot?: string;
}

const URL_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
const DATA_URI = /^data:/i;
const WINDOWS_PATH = /^(?:[A-Za-z]:[\\/]|\\\\)/;
const S3_BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{2,254}$/;
const OBJECT_REF = /^vigil:\/\/objects\/([0-9A-Fa-f]{64})$/;
const SUPPORTED =
  's3://bucket/key, a path relative to the manifest, vigil://objects/<sha256>, or (when allowed) file://';

type ManifestBase =
  | { readonly kind: 's3'; readonly bucket: string; readonly dir: string }
  | { readonly kind: 'relative'; readonly dir: string }
  | { readonly kind: 'file'; readonly dir: string }
  | { readonly kind: 'object' };

/**
 * Classifies a manifest `source-ref` (or mask ref). `manifestLocation` is where the manifest file itself is:
 * `s3://bucket/key`, `file:///abs/path`, an absolute path, a relative path (e.g. inside an uploaded archive) or
 * `vigil://objects/<sha256>`. A relative ref is joined to the manifest's folder and takes the manifest's kind:
 * relative to an S3 manifest it is an S3 object. `..` may climb above the manifest's folder (Lookout projects
 * often keep manifests next to, not above, their images) but never above the bucket or archive root.
 * Throws VigilError INVALID_MANIFEST with `details.problem` (a SourceRefProblem) and `details.ref`.
 */
export function resolveSourceRef(
  ref: string,
  manifestLocation: string,
  options: ResolveSourceRefOptions = {},
): SourceLocation {
  return resolveAgainst(ref, parseManifestLocation(manifestLocation), options);
}

export interface ResolvedManifestEntry extends ManifestEntry {
  readonly source: SourceLocation;
  readonly maskSource?: SourceLocation;
}

/**
 * Resolves the image and mask refs of every entry, collecting every failure with its line number into one
 * INVALID_MANIFEST error (like parseManifest) so the user sees all bad refs at once.
 */
export function resolveManifestRefs(
  entries: readonly ManifestEntry[],
  manifestLocation: string,
  options: ResolveSourceRefOptions & { readonly maxErrors?: number } = {},
): ResolvedManifestEntry[] {
  const base = parseManifestLocation(manifestLocation);
  const problems = new ProblemCollector(options.maxErrors ?? MANIFEST_DEFAULTS.maxErrors);
  const resolved: ResolvedManifestEntry[] = [];
  for (const entry of entries) {
    const source = tryResolve(entry.sourceRef, base, options, entry.line, 'source-ref', problems);
    const maskSource = entry.mask ? tryResolve(entry.mask.ref, base, options, entry.line, 'mask', problems) : undefined;
    if (source && (maskSource || !entry.mask)) {
      resolved.push({ ...entry, source, ...(maskSource ? { maskSource } : {}) });
    }
  }
  if (!problems.isEmpty) throw problems.toError();
  return resolved;
}

function tryResolve(
  ref: string,
  base: ManifestBase,
  options: ResolveSourceRefOptions,
  line: number,
  what: string,
  problems: ProblemCollector,
): SourceLocation | null {
  try {
    return resolveAgainst(ref, base, options);
  } catch (error) {
    if (!isVigilError(error)) throw error;
    problems.add(line, ManifestProblem.InvalidSourceRef, `${what}: ${error.message}`);
    return null;
  }
}

function resolveAgainst(ref: string, base: ManifestBase, options: ResolveSourceRefOptions): SourceLocation {
  if (ref.trim() === '') throw refError(ref, SourceRefProblem.Empty, 'the ref is empty');
  if (ref.includes('\u0000')) throw refError(ref, SourceRefProblem.UnsupportedScheme, 'the ref contains a NUL byte');

  const scheme = URL_SCHEME.exec(ref)?.[1]?.toLowerCase();
  if (scheme === 's3') return parseS3(ref);
  if (scheme === 'vigil') return parseObjectRef(ref);
  if (scheme === 'file') {
    requireLocalFiles(ref, options);
    return withinLocalRoot(ref, parseFileUrl(ref), options);
  }
  if (scheme !== undefined || DATA_URI.test(ref)) {
    const name = scheme ?? 'data';
    throw refError(ref, SourceRefProblem.UnsupportedScheme, `${name}: refs are not supported; use ${SUPPORTED}`);
  }
  if (WINDOWS_PATH.test(ref)) {
    throw refError(
      ref,
      SourceRefProblem.WindowsPath,
      'Windows paths are not supported; use a path relative to the manifest with / separators',
    );
  }
  if (ref.startsWith('/')) {
    requireLocalFiles(ref, options);
    return withinLocalRoot(ref, { kind: 'file', path: posix.normalize(ref) }, options);
  }
  return resolveRelative(ref, base, options);
}

function resolveRelative(ref: string, base: ManifestBase, options: ResolveSourceRefOptions): SourceLocation {
  if (base.kind === 'object') {
    throw refError(
      ref,
      SourceRefProblem.UnresolvableRelative,
      'a relative ref cannot be resolved against a manifest stored as an object; use absolute refs',
    );
  }
  const joined = posix.normalize(posix.join(base.dir, ref));
  if (base.kind === 'file') return withinLocalRoot(ref, { kind: 'file', path: joined }, options);
  if (joined === '..' || joined.startsWith('../')) {
    const root = base.kind === 's3' ? `the bucket ${base.bucket}` : 'the manifest root';
    throw refError(ref, SourceRefProblem.OutsideRoot, `the ref climbs above ${root}`);
  }
  if (joined === '.' || joined.endsWith('/')) {
    throw refError(ref, SourceRefProblem.Empty, 'the ref names a folder, not a file');
  }
  return base.kind === 's3' ? { kind: 's3', bucket: base.bucket, key: joined } : { kind: 'relative', path: joined };
}

function parseS3(ref: string): Extract<SourceLocation, { kind: 's3' }> {
  const rest = ref.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  // S3 keys are literal strings: no percent-decoding and no '..' folding.
  const key = slash < 0 ? '' : rest.slice(slash + 1);
  if (!S3_BUCKET.test(bucket))
    throw refError(ref, SourceRefProblem.InvalidS3Uri, `"${bucket}" is not an S3 bucket name`);
  if (key === '' || key.endsWith('/')) {
    throw refError(ref, SourceRefProblem.InvalidS3Uri, 'an S3 ref needs an object key (s3://bucket/key)');
  }
  return { kind: 's3', bucket, key };
}

function parseObjectRef(ref: string): SourceLocation {
  const sha = OBJECT_REF.exec(ref)?.[1];
  if (sha === undefined) {
    throw refError(
      ref,
      SourceRefProblem.InvalidObjectRef,
      'an object ref is vigil://objects/<sha256 as 64 hex digits>',
    );
  }
  return { kind: 'object', key: sha.toLowerCase() };
}

function parseFileUrl(ref: string): Extract<SourceLocation, { kind: 'file' }> {
  let url: URL;
  let path: string;
  try {
    url = new URL(ref);
    path = decodeURIComponent(url.pathname);
  } catch {
    throw refError(ref, SourceRefProblem.InvalidFileUrl, 'not a valid file:// URL');
  }
  if (url.hostname !== '' && url.hostname !== 'localhost') {
    throw refError(
      ref,
      SourceRefProblem.InvalidFileUrl,
      `file URLs on another host (${url.hostname}) are not supported`,
    );
  }
  if (path.includes('\u0000') || path === '/' || path.endsWith('/')) {
    throw refError(ref, SourceRefProblem.InvalidFileUrl, 'a file URL must name a file');
  }
  return { kind: 'file', path: posix.normalize(path) };
}

function requireLocalFiles(ref: string, options: ResolveSourceRefOptions): void {
  if (!options.allowLocalFiles) {
    throw refError(
      ref,
      SourceRefProblem.LocalFileNotAllowed,
      'absolute local paths and file:// refs are not allowed here; use a path relative to the manifest',
    );
  }
}

function withinLocalRoot(ref: string, location: SourceLocation, options: ResolveSourceRefOptions): SourceLocation {
  if (location.kind !== 'file' || options.localRoot === undefined) return location;
  const root = normaliseRoot(options.localRoot);
  const inside = root === '/' || location.path === root || location.path.startsWith(`${root}/`);
  if (!inside) throw refError(ref, SourceRefProblem.OutsideRoot, `the file is outside ${root}`);
  return location;
}

function normaliseRoot(root: string): string {
  if (!root.startsWith('/')) throw errors.badInput(`localRoot must be an absolute path, got "${root}"`);
  const normalised = posix.normalize(root);
  return normalised.length > 1 && normalised.endsWith('/') ? normalised.slice(0, -1) : normalised;
}

/** The manifest location comes from our own code, not from the file, hence BAD_USER_INPUT when it is wrong. */
function parseManifestLocation(location: string): ManifestBase {
  const invalid = (why: string): VigilError =>
    errors.badInput(`Invalid manifest location "${location}": ${why}`, { manifestLocation: location });
  if (location.trim() === '') throw invalid('it is empty');
  const scheme = URL_SCHEME.exec(location)?.[1]?.toLowerCase();
  try {
    if (scheme === 's3') {
      const s3 = parseS3(location);
      return { kind: 's3', bucket: s3.bucket, dir: posix.dirname(s3.key) };
    }
    if (scheme === 'vigil') {
      parseObjectRef(location);
      return { kind: 'object' };
    }
    if (scheme === 'file') {
      const file = parseFileUrl(location);
      return { kind: 'file', dir: posix.dirname(file.path) };
    }
  } catch (error) {
    if (isVigilError(error)) throw invalid(error.message);
    throw error;
  }
  if (scheme !== undefined || WINDOWS_PATH.test(location)) throw invalid(`use ${SUPPORTED}`);
  if (location.startsWith('/')) return { kind: 'file', dir: posix.dirname(posix.normalize(location)) };
  const normalised = posix.normalize(location);
  if (normalised === '..' || normalised.startsWith('../')) throw invalid('it climbs above its root');
  return { kind: 'relative', dir: posix.dirname(normalised) };
}

function refError(ref: string, problem: SourceRefProblem, why: string): VigilError {
  const shown = ref.length > 200 ? `${ref.slice(0, 199)}…` : ref;
  return errors.invalidManifest(`ref "${shown}": ${why}`, { ref, problem });
}
