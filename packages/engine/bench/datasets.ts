import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';

export interface BenchImage {
  readonly path: string;
  readonly label: 'normal' | 'anomaly';
  readonly maskPath?: string;
  /** True when the image's pixel truth is known (a mask, or a normal image). */
  readonly pixelTruth: boolean;
}

export interface BenchDataset {
  readonly name: string;
  readonly layout: string;
  readonly split: string;
  readonly train: BenchImage[];
  readonly test: BenchImage[];
  readonly classes: { name: string; color: string }[];
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp']);
const natural = (a: string, b: string): number => a.localeCompare(b, undefined, { numeric: true });
const listImages = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()))
        .sort(natural)
        .map((f) => join(dir, f))
    : [];
const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

interface ManifestLine {
  'source-ref'?: string;
  'anomaly-label'?: number;
  'anomaly-mask-ref'?: string;
  'anomaly-mask-ref-metadata'?: {
    'internal-color-map'?: Record<string, { 'class-name'?: string; 'hex-color'?: string }>;
  };
}

/**
 * Lookout / Ground Truth manifest (cookies). Fixed split: the first 65% of the manifest's normal images
 * (natural name order; cookies: normal-1..20) and the first half of its anomalies (anomaly-1..16) train;
 * the rest of the manifest (normal-21..31, anomaly-17..32) and every image in test-images/ (labelled by
 * its name) test.
 */
function fromManifest(dir: string, manifest: string): BenchDataset {
  const lines = readFileSync(manifest, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ManifestLine);
  const classes = new Map<string, string>();
  const entries: BenchImage[] = [];
  for (const l of lines) {
    const src = l['source-ref'];
    if (!src) continue;
    const path = src.startsWith('s3://') ? join(dir, basename(src)) : join(dir, src);
    const label = l['anomaly-label'] === 1 ? 'anomaly' : 'normal';
    const mask = l['anomaly-mask-ref'];
    for (const c of Object.values(l['anomaly-mask-ref-metadata']?.['internal-color-map'] ?? {})) {
      const name = c['class-name'];
      if (name && name !== 'BACKGROUND' && c['hex-color'] && c['hex-color'].toLowerCase() !== '#ffffff')
        classes.set(name, c['hex-color']);
    }
    const maskPath = mask ? (mask.startsWith('s3://') ? join(dir, basename(mask)) : join(dir, mask)) : undefined;
    entries.push({ path, label, ...(maskPath ? { maskPath } : {}), pixelTruth: label === 'normal' || !!maskPath });
  }
  const byName = (a: BenchImage, b: BenchImage): number => natural(basename(a.path), basename(b.path));
  const normals = entries.filter((e) => e.label === 'normal').sort(byName);
  const anomalies = entries.filter((e) => e.label === 'anomaly').sort(byName);
  const nTrain = Math.round(normals.length * 0.65);
  const aTrain = Math.floor(anomalies.length / 2);
  const test = [...normals.slice(nTrain), ...anomalies.slice(aTrain)];
  for (const p of listImages(join(dir, 'test-images'))) {
    const label = /anomal/i.test(basename(p)) ? 'anomaly' : 'normal';
    test.push({ path: p, label, pixelTruth: label === 'normal' });
  }
  return {
    name: basename(dir),
    layout: 'manifest',
    split: `train: ${nTrain}/${normals.length} normals + ${aTrain}/${anomalies.length} anomalies (natural name order); test: the rest + test-images/`,
    train: [...normals.slice(0, nTrain), ...anomalies.slice(0, aTrain)],
    test,
    classes: [...classes].map(([name, color]) => ({ name, color })),
  };
}

/** MVTec AD: train/good, test/<defect>, ground_truth/<defect>/<stem>_mask.png. */
function fromMvtec(dir: string): BenchDataset {
  const train = listImages(join(dir, 'train', 'good')).map((p) => ({
    path: p,
    label: 'normal' as const,
    pixelTruth: true,
  }));
  const test: BenchImage[] = [];
  for (const defect of readdirSync(join(dir, 'test')).sort(natural)) {
    for (const p of listImages(join(dir, 'test', defect))) {
      if (defect === 'good') test.push({ path: p, label: 'normal', pixelTruth: true });
      else {
        const stem = basename(p, extname(p));
        const m = join(dir, 'ground_truth', defect, `${stem}_mask.png`);
        test.push({ path: p, label: 'anomaly', ...(existsSync(m) ? { maskPath: m } : {}), pixelTruth: existsSync(m) });
      }
    }
  }
  return { name: basename(dir), layout: 'mvtec', split: 'train/good trains; test/* tests', train, test, classes: [] };
}

/** train/normal, test/normal, test/anomaly (+ masks/ or test/masks/ with the same stem). */
function fromSimple(dir: string): BenchDataset {
  const maskDir = [join(dir, 'masks'), join(dir, 'test', 'masks'), join(dir, 'ground_truth')].find(isDir);
  const maskFor = (p: string): string | undefined => {
    if (!maskDir) return undefined;
    const stem = basename(p, extname(p));
    return [`${stem}.png`, `${stem}_mask.png`].map((f) => join(maskDir, f)).find((f) => existsSync(f));
  };
  const train = listImages(join(dir, 'train', 'normal')).map((p) => ({
    path: p,
    label: 'normal' as const,
    pixelTruth: true,
  }));
  const trainAnom = listImages(join(dir, 'train', 'anomaly')).map((p) => {
    const m = maskFor(p);
    return { path: p, label: 'anomaly' as const, ...(m ? { maskPath: m } : {}), pixelTruth: !!m };
  });
  const test: BenchImage[] = [
    ...listImages(join(dir, 'test', 'normal')).map((p) => ({ path: p, label: 'normal' as const, pixelTruth: true })),
    ...listImages(join(dir, 'test', 'anomaly')).map((p) => {
      const m = maskFor(p);
      return { path: p, label: 'anomaly' as const, ...(m ? { maskPath: m } : {}), pixelTruth: !!m };
    }),
  ];
  return {
    name: basename(dir),
    layout: 'train-test',
    split: 'train/* trains; test/* tests',
    train: [...train, ...trainAnom],
    test,
    classes: [],
  };
}

/** Lookout's S3 layout: normal/ and anomaly/ folders; first 65% of normals and half the anomalies train. */
function fromLookoutFolders(dir: string): BenchDataset {
  const normals = listImages(join(dir, 'normal'));
  const anomalies = listImages(join(dir, 'anomaly'));
  const nTrain = Math.round(normals.length * 0.65);
  const aTrain = Math.floor(anomalies.length / 2);
  const n = (p: string): BenchImage => ({ path: p, label: 'normal', pixelTruth: true });
  const a = (p: string): BenchImage => ({ path: p, label: 'anomaly', pixelTruth: false });
  return {
    name: basename(dir),
    layout: 'lookout-folders',
    split: 'first 65% normals + first half anomalies (natural order) train',
    train: [...normals.slice(0, nTrain).map(n), ...anomalies.slice(0, aTrain).map(a)],
    test: [...normals.slice(nTrain).map(n), ...anomalies.slice(aTrain).map(a)],
    classes: [],
  };
}

export function loadDataset(dir: string): BenchDataset {
  const manifest = readdirSync(dir).find((f) => f.endsWith('.manifest'));
  if (manifest) return fromManifest(dir, join(dir, manifest));
  if (isDir(join(dir, 'train', 'good'))) return fromMvtec(dir);
  if (isDir(join(dir, 'train', 'normal'))) return fromSimple(dir);
  if (isDir(join(dir, 'normal'))) return fromLookoutFolders(dir);
  throw new Error(`unrecognised dataset layout in ${dir}`);
}
