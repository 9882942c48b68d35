import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { decodeImage } from './decode';
import { probeImage } from './probe';

/** The real sample set shipped beside the repo (shared/datasets/cookies); absent on some machines. */
const COOKIES = path.resolve(__dirname, '../../../../shared/datasets/cookies');
const present = existsSync(path.join(COOKIES, 'training-images'));

if (!present) {
  console.warn(`skipping the cookies data-set probe: ${COOKIES} is not present on this machine`);
}

function filesIn(folder: string): string[] {
  const dir = path.join(COOKIES, folder);
  return existsSync(dir)
    ? readdirSync(dir)
        .sort()
        .map((name) => path.join(dir, name))
    : [];
}

(present ? describe : describe.skip)('real images: the cookies data set', () => {
  it('probes every photo as a valid upright 8-bit RGB JPEG', async () => {
    const photos = [...filesIn('training-images'), ...filesIn('test-images')];
    expect(photos.length).toBeGreaterThan(0);
    for (const file of photos) {
      const probe = await probeImage(readFileSync(file));
      expect({ file: path.basename(file), ...probe }).toMatchObject({
        file: path.basename(file),
        format: 'jpeg',
        bitDepth: 8,
        channels: 3,
        isGreyscale: false,
        hasAlpha: false,
      });
      expect(probe.orientedWidth * probe.orientedHeight).toBeGreaterThan(0);
    }
  });

  it('probes every mask as a PNG the size of its photo, and decodes one', async () => {
    const masks = filesIn('mask-images');
    expect(masks.length).toBeGreaterThan(0);
    for (const mask of masks) {
      const probe = await probeImage(readFileSync(mask));
      const photo = path.join(COOKIES, 'training-images', path.basename(mask).replace(/\.png$/, '.jpg'));
      expect(probe.format).toBe('png');
      if (existsSync(photo)) {
        const photoProbe = await probeImage(readFileSync(photo));
        expect([probe.orientedWidth, probe.orientedHeight]).toEqual([
          photoProbe.orientedWidth,
          photoProbe.orientedHeight,
        ]);
      }
    }
    const decoded = await decodeImage(readFileSync(masks[0]!), { colour: 'rgb', removeAlpha: true });
    expect(decoded.channels).toBe(3);
    // Masks are the crack colour #23A436 on black, nothing else.
    const colours = new Set<string>();
    for (let i = 0; i < decoded.data.length; i += 3) colours.add(decoded.data.subarray(i, i + 3).toString('hex'));
    expect([...colours].every((c) => c === '000000' || c === '23a436')).toBe(true);
  });
});
