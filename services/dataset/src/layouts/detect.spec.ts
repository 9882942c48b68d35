import { describe, expect, it } from '@jest/globals';
import { detectLayout, isImagePath, type DetectedLayout } from './detect';

function summary(result: DetectedLayout): string[] {
  return result.entries.map((e) =>
    [e.path, e.datasetType ?? '-', e.label, e.defectType ?? '', e.maskPath ?? ''].join(' ').trimEnd(),
  );
}

function ignoredReasons(result: DetectedLayout): [string, string][] {
  return result.ignored.map((i) => [i.path, i.reason]);
}

describe('detectLayout: Lookout', () => {
  it('labels Train/Test × Normal/Anomaly in any case', () => {
    const result = detectLayout([
      'TRAIN/anomaly/b.png',
      'Train/Normal/image-10.jpg',
      'Train/Normal/image-2.jpg',
      'train/normal/image-1.JPG',
      'Test/Anomaly/x.jpeg',
      'test/NORMAL/y.bmp',
    ]);
    expect(result.layout).toBe('lookout');
    expect(result.root).toBe('');
    expect(summary(result)).toEqual([
      'Test/Anomaly/x.jpeg test anomaly',
      'test/NORMAL/y.bmp test normal',
      'TRAIN/anomaly/b.png train anomaly',
      'train/normal/image-1.JPG train normal',
      'Train/Normal/image-2.jpg train normal',
      'Train/Normal/image-10.jpg train normal',
    ]);
    expect(result.ignored).toEqual([]);
  });

  it('accepts the single-dataset form normal/ + anomaly/ with datasetType null', () => {
    const result = detectLayout(['normal/1.png', 'Anomaly/2.tif', 'anomaly/deep/3.TIFF']);
    expect(result.layout).toBe('lookout');
    expect(summary(result)).toEqual([
      'Anomaly/2.tif - anomaly',
      'anomaly/deep/3.TIFF - anomaly',
      'normal/1.png - normal',
    ]);
  });

  it('ignores stray, nested non-image, hidden and system files with a reason', () => {
    const result = detectLayout([
      'Train/Normal/a.jpg',
      'Train/Normal/sub/b.jpg',
      'Train/Anomaly/1.jpg',
      'Train/Anomaly/2.jpg',
      'Train/Normal/notes.txt',
      'Train/Normal/.DS_Store',
      'Train/.hidden/c.jpg',
      'Train/Normal/._a.jpg',
      '__MACOSX/Train/Normal/a.jpg',
      'Train/preview.jpg',
      'Train/Other/d.jpg',
      'Test/Anomaly/',
      'normal/e.jpg',
      'manifest.json',
      'Train/Normal/a.jpg',
      './Train/Normal/a.jpg',
      '../escape.jpg',
      '/abs.jpg',
    ]);
    expect(result.layout).toBe('lookout');
    expect(summary(result)).toEqual([
      'Train/Anomaly/1.jpg train anomaly',
      'Train/Anomaly/2.jpg train anomaly',
      'Train/Normal/a.jpg train normal',
      'Train/Normal/sub/b.jpg train normal',
    ]);
    expect(ignoredReasons(result)).toEqual([
      ['/abs.jpg', 'invalid-path'],
      ['./Train/Normal/a.jpg', 'duplicate'],
      ['../escape.jpg', 'invalid-path'],
      ['__MACOSX/Train/Normal/a.jpg', 'hidden'],
      ['manifest.json', 'not-an-image'],
      ['normal/e.jpg', 'outside-layout'],
      ['Test/Anomaly/', 'directory'],
      ['Train/.hidden/c.jpg', 'hidden'],
      ['Train/Normal/._a.jpg', 'hidden'],
      ['Train/Normal/.DS_Store', 'hidden'],
      ['Train/Normal/a.jpg', 'duplicate'],
      ['Train/Normal/notes.txt', 'not-an-image'],
      ['Train/Other/d.jpg', 'outside-layout'],
      ['Train/preview.jpg', 'outside-layout'],
    ]);
    expect(result.ignored.find((i) => i.path === 'Train/Other/d.jpg')?.message).toBe(
      'not under Train/Normal, Train/Anomaly, Test/Normal or Test/Anomaly',
    );
  });

  it('finds the layout inside an archive folder and ignores images outside it', () => {
    const result = detectLayout([
      'my-upload/Train/Normal/1.jpg',
      'my-upload/Train/Anomaly/2.jpg',
      'my-upload/Test/Normal/3.jpg',
      'cover.png',
    ]);
    expect(result.layout).toBe('lookout');
    expect(result.root).toBe('my-upload');
    expect(summary(result)).toEqual([
      'my-upload/Test/Normal/3.jpg test normal',
      'my-upload/Train/Anomaly/2.jpg train anomaly',
      'my-upload/Train/Normal/1.jpg train normal',
    ]);
    expect(result.ignored).toEqual([
      { path: 'cover.png', reason: 'outside-layout', message: "outside the lookout layout found in 'my-upload/'" },
    ]);
  });

  it('uses the whole Train/Test form even when only one label folder exists', () => {
    const result = detectLayout(['Train/Normal/1.jpg', 'Train/Normal/2.jpg']);
    expect(summary(result)).toEqual(['Train/Normal/1.jpg train normal', 'Train/Normal/2.jpg train normal']);
  });
});

describe('detectLayout: MVTec AD', () => {
  const BOTTLE = [
    'license.txt',
    'readme.txt',
    'train/good/000.png',
    'train/good/001.png',
    'train/good/010.png',
    'test/good/000.png',
    'test/broken_large/000.png',
    'test/broken_large/001.png',
    'test/contamination/000.png',
    'ground_truth/broken_large/000_mask.png',
    'ground_truth/broken_large/001_mask.png',
    'ground_truth/contamination/000_mask.png',
    'ground_truth/contamination/007_mask.png',
  ];

  it('labels train/good, test/good and test/<defect>, and attaches the matching masks', () => {
    const result = detectLayout(BOTTLE);
    expect(result.layout).toBe('mvtec');
    expect(summary(result)).toEqual([
      'test/broken_large/000.png test anomaly broken_large ground_truth/broken_large/000_mask.png',
      'test/broken_large/001.png test anomaly broken_large ground_truth/broken_large/001_mask.png',
      'test/contamination/000.png test anomaly contamination ground_truth/contamination/000_mask.png',
      'test/good/000.png test normal',
      'train/good/000.png train normal',
      'train/good/001.png train normal',
      'train/good/010.png train normal',
    ]);
    expect(ignoredReasons(result)).toEqual([
      ['ground_truth/contamination/007_mask.png', 'unmatched-mask'],
      ['license.txt', 'not-an-image'],
      ['readme.txt', 'not-an-image'],
    ]);
  });

  it('works inside a category folder, prefers <stem>_mask over <stem>, and ignores stray images', () => {
    const result = detectLayout([
      ...BOTTLE.map((p) => `bottle/${p}`),
      'bottle/ground_truth/broken_large/000.png',
      'bottle/train/crack/5.png',
      'bottle/test/loose.png',
      'bottle/extra/1.png',
    ]);
    expect(result.layout).toBe('mvtec');
    expect(result.root).toBe('bottle');
    expect(result.entries.find((e) => e.path === 'bottle/test/broken_large/000.png')?.maskPath).toBe(
      'bottle/ground_truth/broken_large/000_mask.png',
    );
    expect(ignoredReasons(result)).toEqual([
      ['bottle/extra/1.png', 'outside-layout'],
      ['bottle/ground_truth/broken_large/000.png', 'duplicate-mask'],
      ['bottle/ground_truth/contamination/007_mask.png', 'unmatched-mask'],
      ['bottle/license.txt', 'not-an-image'],
      ['bottle/readme.txt', 'not-an-image'],
      ['bottle/test/loose.png', 'outside-layout'],
      ['bottle/train/crack/5.png', 'outside-layout'],
    ]);
  });

  it('accepts masks named exactly like their image', () => {
    const result = detectLayout(['train/good/1.png', 'test/scratch/a.jpg', 'ground_truth/scratch/a.png']);
    expect(summary(result)).toEqual([
      'test/scratch/a.jpg test anomaly scratch ground_truth/scratch/a.png',
      'train/good/1.png train normal',
    ]);
  });
});

describe('detectLayout: plain', () => {
  it('lists every image unlabelled with datasetType null, in natural order', () => {
    const result = detectLayout(['img/image-10.png', 'img/image-2.png', 'img/Image-1.png', 'b.jpg', 'notes.md']);
    expect(result.layout).toBe('plain');
    expect(result.root).toBe('');
    expect(summary(result)).toEqual([
      'b.jpg - unlabelled',
      'img/Image-1.png - unlabelled',
      'img/image-2.png - unlabelled',
      'img/image-10.png - unlabelled',
    ]);
    expect(ignoredReasons(result)).toEqual([['notes.md', 'not-an-image']]);
  });

  it('stays plain when labelled folders hold only a minority of the images', () => {
    const result = detectLayout(['photos/normal/1.jpg', 'photos/2.jpg', 'photos/3.jpg', 'other/4.jpg']);
    expect(result.layout).toBe('plain');
    expect(result.entries).toHaveLength(4);
    expect(result.entries.every((e) => e.label === 'unlabelled' && e.datasetType === null)).toBe(true);
  });

  it('handles an empty listing', () => {
    expect(detectLayout([])).toEqual({ layout: 'plain', root: '', entries: [], ignored: [] });
  });
});

describe('isImagePath', () => {
  it('goes by extension in any case', () => {
    expect(['a.jpg', 'a.JPEG', 'x/a.Png', 'a.bmp', 'a.tif', 'a.TIFF'].every(isImagePath)).toBe(true);
    expect(['a.gif', 'a.webp', 'jpg', '.jpg', 'a.jpg/b', 'a.jpg.txt'].some(isImagePath)).toBe(false);
  });
});
