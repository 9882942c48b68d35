import { type DatasetType, type EntryLabel } from '@vigil/contracts';
import { comparePaths } from './natural-sort';

export type LayoutKind = 'lookout' | 'mvtec' | 'plain';

export interface LayoutEntry {
  /** The path exactly as given. */
  readonly path: string;
  /** null when the layout does not say (plain folders, Lookout's single-dataset normal/ + anomaly/ form). */
  readonly datasetType: DatasetType | null;
  readonly label: EntryLabel;
  /** MVTec defect folder name, as written (e.g. 'broken_large'). */
  readonly defectType?: string;
  /** MVTec ground-truth mask of this image, as given. */
  readonly maskPath?: string;
}

export const IgnoredReason = {
  InvalidPath: 'invalid-path',
  Directory: 'directory',
  Duplicate: 'duplicate',
  Hidden: 'hidden',
  NotAnImage: 'not-an-image',
  OutsideLayout: 'outside-layout',
  UnmatchedMask: 'unmatched-mask',
  DuplicateMask: 'duplicate-mask',
} as const;
export type IgnoredReason = (typeof IgnoredReason)[keyof typeof IgnoredReason];

export interface IgnoredPath {
  readonly path: string;
  readonly reason: IgnoredReason;
  readonly message: string;
}

export interface DetectedLayout {
  readonly layout: LayoutKind;
  /** The folder the layout was found in ('' for the top); images outside it are ignored. */
  readonly root: string;
  readonly entries: LayoutEntry[];
  readonly ignored: IgnoredPath[];
}

/** Listing only: the real format is decided later from the bytes. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff'];

export function isImagePath(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const dot = name.lastIndexOf('.');
  return dot > 0 && IMAGE_EXTENSIONS.includes(name.slice(dot));
}

interface Candidate {
  readonly path: string;
  /** Normalised segments: no empty or '.' segments. */
  readonly segments: readonly string[];
}

interface Match {
  readonly layout: Exclude<LayoutKind, 'plain'>;
  readonly root: readonly string[];
  readonly entries: LayoutEntry[];
  readonly ignored: IgnoredPath[];
  /** Images the layout uses: its entries plus the masks attached to them. */
  readonly used: number;
}

const SPLITS = new Set(['train', 'test']);
const LOOKOUT_LABELS = new Map<string, EntryLabel>([
  ['normal', 'normal'],
  ['anomaly', 'anomaly'],
]);
const MVTEC_GOOD = 'good';
const MVTEC_MASKS = 'ground_truth';
const MASK_SUFFIX = '_mask';
/** Bounds the work on pathological listings where many folders look like layout roots. */
const MAX_ROOTS_TRIED = 16;

/**
 * Recognises the folder layout of an upload and labels its images:
 * - lookout: Train|Test/Normal|Anomaly/… (any case), or Normal|Anomaly/… at the top (datasetType null);
 * - mvtec: train/good, test/good, test/<defect> (anomaly), ground_truth/<defect>/<stem>_mask.* as masks;
 * - plain: every image unlabelled, datasetType null.
 * The layout may sit in a sub-folder (an archive's top folder). It is chosen only if it uses more than half
 * of the images (entries plus attached masks), otherwise the upload is plain; anything unused is in `ignored`.
 * Images in sub-folders of a label folder take that label. Output is in natural path order.
 */
export function detectLayout(relativePaths: readonly string[]): DetectedLayout {
  const { candidates, ignored } = screen(relativePaths);
  const match = bestMatch(candidates);
  if (!match) {
    const entries = candidates.map((c): LayoutEntry => ({ path: c.path, datasetType: null, label: 'unlabelled' }));
    return finish('plain', '', entries, ignored);
  }
  const root = match.root.join('/');
  for (const candidate of candidates) {
    if (!isUnder(candidate, match.root)) {
      ignored.push({
        path: candidate.path,
        reason: IgnoredReason.OutsideLayout,
        message: `outside the ${match.layout} layout found in '${root}/'`,
      });
    }
  }
  return finish(match.layout, root, match.entries, [...ignored, ...match.ignored]);
}

function finish(layout: LayoutKind, root: string, entries: LayoutEntry[], ignored: IgnoredPath[]): DetectedLayout {
  return {
    layout,
    root,
    entries: entries.sort((a, b) => comparePaths(a.path, b.path)),
    ignored: ignored.sort((a, b) => comparePaths(a.path, b.path)),
  };
}

/** Splits the listing into image candidates and ignored paths (hidden, not images, malformed). */
function screen(paths: readonly string[]): { candidates: Candidate[]; ignored: IgnoredPath[] } {
  const candidates: Candidate[] = [];
  const ignored: IgnoredPath[] = [];
  const seen = new Set<string>();
  for (const path of paths) {
    const ignore = (reason: IgnoredReason, message: string): void => {
      ignored.push({ path, reason, message });
    };
    if (path.endsWith('/')) {
      ignore(IgnoredReason.Directory, 'a folder, not a file');
      continue;
    }
    const segments = path.split('/').filter((s) => s !== '' && s !== '.');
    if (path.startsWith('/') || path.includes('\u0000') || segments.length === 0 || segments.includes('..')) {
      ignore(IgnoredReason.InvalidPath, 'not a relative path inside the upload');
      continue;
    }
    const key = segments.join('/');
    if (seen.has(key)) {
      ignore(IgnoredReason.Duplicate, 'listed more than once');
      continue;
    }
    seen.add(key);
    if (segments.some((s) => s.startsWith('.') || s === '__MACOSX')) {
      ignore(IgnoredReason.Hidden, 'a hidden or system file');
      continue;
    }
    if (!isImagePath(key)) {
      ignore(IgnoredReason.NotAnImage, `not an image file (${IMAGE_EXTENSIONS.join(' ')})`);
      continue;
    }
    candidates.push({ path, segments });
  }
  return { candidates, ignored };
}

function bestMatch(candidates: readonly Candidate[]): Match | null {
  let best: Match | null = null;
  for (const root of likelyRoots(candidates)) {
    const under = candidates.filter((c) => isUnder(c, root));
    for (const match of [matchLookout(under, root), matchMvtec(under, root)]) {
      if (match && (best === null || match.used > best.used)) best = match;
    }
  }
  // A few labelled folders in a big plain upload do not make it a labelled upload.
  return best && best.used * 2 > candidates.length ? best : null;
}

/** Folders that directly hold Train/Test or Normal/Anomaly folders, most images first, then shallowest. */
function likelyRoots(candidates: readonly Candidate[]): (readonly string[])[] {
  const counts = new Map<string, { root: readonly string[]; count: number }>();
  for (const { segments } of candidates) {
    const roots = new Set<string>();
    for (let i = 0; i < segments.length - 1; i += 1) {
      const name = (segments[i] ?? '').toLowerCase();
      if (SPLITS.has(name) || LOOKOUT_LABELS.has(name)) roots.add(segments.slice(0, i).join('/'));
    }
    for (const key of roots) {
      const root = key === '' ? [] : key.split('/');
      const entry = counts.get(key) ?? { root, count: 0 };
      entry.count += 1;
      counts.set(key, entry);
    }
  }
  return [...counts.values()]
    .sort(
      (a, b) => b.count - a.count || a.root.length - b.root.length || comparePaths(a.root.join('/'), b.root.join('/')),
    )
    .slice(0, MAX_ROOTS_TRIED)
    .map((r) => r.root);
}

function matchLookout(candidates: readonly Candidate[], root: readonly string[]): Match | null {
  const relative = candidates.map((c) => ({ candidate: c, rel: c.segments.slice(root.length) }));
  const split = ({ rel }: { rel: readonly string[] }): boolean =>
    rel.length >= 3 && SPLITS.has(lower(rel[0])) && LOOKOUT_LABELS.has(lower(rel[1]));
  const single = ({ rel }: { rel: readonly string[] }): boolean => rel.length >= 2 && LOOKOUT_LABELS.has(lower(rel[0]));
  const splitForm = relative.some(split);
  if (!splitForm && !relative.some(single)) return null;

  const entries: LayoutEntry[] = [];
  const ignored: IgnoredPath[] = [];
  for (const item of relative) {
    const { candidate, rel } = item;
    if (splitForm && split(item)) {
      const datasetType = lower(rel[0]) === 'train' ? 'train' : 'test';
      entries.push({ path: candidate.path, datasetType, label: LOOKOUT_LABELS.get(lower(rel[1])) ?? 'unlabelled' });
    } else if (!splitForm && single(item)) {
      entries.push({
        path: candidate.path,
        datasetType: null,
        label: LOOKOUT_LABELS.get(lower(rel[0])) ?? 'unlabelled',
      });
    } else {
      ignored.push({
        path: candidate.path,
        reason: IgnoredReason.OutsideLayout,
        message: splitForm
          ? 'not under Train/Normal, Train/Anomaly, Test/Normal or Test/Anomaly'
          : 'not under Normal/ or Anomaly/',
      });
    }
  }
  return { layout: 'lookout', root, entries, ignored, used: entries.length };
}

function matchMvtec(candidates: readonly Candidate[], root: readonly string[]): Match | null {
  const relative = candidates.map((c) => ({ candidate: c, rel: c.segments.slice(root.length) }));
  const hasGood = relative.some(
    ({ rel }) => rel.length >= 3 && SPLITS.has(lower(rel[0])) && lower(rel[1]) === MVTEC_GOOD,
  );
  if (!hasGood) return null;

  const entries: LayoutEntry[] = [];
  const ignored: IgnoredPath[] = [];
  const masks: { candidate: Candidate; key: string; exact: boolean }[] = [];
  const anomalies = new Map<string, number>();
  for (const { candidate, rel } of relative) {
    const top = lower(rel[0]);
    const folder = rel[1] ?? '';
    const outside = (message: string): void => {
      ignored.push({ path: candidate.path, reason: IgnoredReason.OutsideLayout, message });
    };
    if (rel.length < 3) {
      outside('not inside a train/, test/ or ground_truth/ class folder');
    } else if (top === 'train') {
      if (lower(folder) === MVTEC_GOOD) entries.push({ path: candidate.path, datasetType: 'train', label: 'normal' });
      else outside('MVTec train/ holds only good/ images');
    } else if (top === 'test') {
      if (lower(folder) === MVTEC_GOOD) {
        entries.push({ path: candidate.path, datasetType: 'test', label: 'normal' });
      } else {
        anomalies.set(imageKey(rel), entries.length);
        entries.push({ path: candidate.path, datasetType: 'test', label: 'anomaly', defectType: folder });
      }
    } else if (top === MVTEC_MASKS) {
      const stem = stemOf(rel[rel.length - 1] ?? '');
      const exact = stem.endsWith(MASK_SUFFIX) && stem.length > MASK_SUFFIX.length;
      const base = exact ? stem.slice(0, -MASK_SUFFIX.length) : stem;
      masks.push({ candidate, key: [...rel.slice(1, -1), base].join('/'), exact });
    } else {
      outside('not inside train/, test/ or ground_truth/');
    }
  }
  const attached = attachMasks(entries, anomalies, masks, ignored);
  return { layout: 'mvtec', root, entries, ignored, used: entries.length + attached };
}

/** `<stem>_mask.*` is MVTec's naming; a mask named exactly like its image is accepted when there is no `_mask`. */
function attachMasks(
  entries: LayoutEntry[],
  anomalies: ReadonlyMap<string, number>,
  masks: readonly { candidate: Candidate; key: string; exact: boolean }[],
  ignored: IgnoredPath[],
): number {
  const ordered = [...masks].sort(
    (a, b) => Number(b.exact) - Number(a.exact) || comparePaths(a.candidate.path, b.candidate.path),
  );
  const taken = new Set<number>();
  for (const mask of ordered) {
    const index = anomalies.get(mask.key);
    const entry = index === undefined ? undefined : entries[index];
    if (index === undefined || !entry) {
      ignored.push({
        path: mask.candidate.path,
        reason: IgnoredReason.UnmatchedMask,
        message: 'no test/<defect>/ image matches this mask',
      });
    } else if (taken.has(index)) {
      ignored.push({
        path: mask.candidate.path,
        reason: IgnoredReason.DuplicateMask,
        message: `${entry.path} already has mask ${entry.maskPath ?? ''}`,
      });
    } else {
      taken.add(index);
      entries[index] = { ...entry, maskPath: mask.candidate.path };
    }
  }
  return taken.size;
}

/** test/<defect>/<dirs…>/<stem>.<ext> → '<defect>/<dirs…>/<stem>', the key its mask is found by. */
function imageKey(rel: readonly string[]): string {
  return [...rel.slice(1, -1), stemOf(rel[rel.length - 1] ?? '')].join('/');
}

function stemOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

function isUnder(candidate: Candidate, root: readonly string[]): boolean {
  return root.length < candidate.segments.length && root.every((s, i) => candidate.segments[i] === s);
}

function lower(segment: string | undefined): string {
  return (segment ?? '').toLowerCase();
}
