import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { syntheticImage } from '@vigil/images/src/testing';

/**
 * A small labelled project in the Lookout layout, enough to train and evaluate a model in seconds:
 * train 10 normal + 2 defective, test 4 normal + 3 defective, 64×64 PNG textures. `seed` varies the pixels.
 */
export async function writeSmallProjectFolder(root: string, seed: number): Promise<void> {
  const layout: Record<string, { defect: boolean; count: number }> = {
    'train/normal': { defect: false, count: 10 },
    'train/anomaly': { defect: true, count: 2 },
    'test/normal': { defect: false, count: 4 },
    'test/anomaly': { defect: true, count: 3 },
  };
  let next = seed;
  for (const [folder, spec] of Object.entries(layout)) {
    await mkdir(path.join(root, folder), { recursive: true });
    for (let i = 0; i < spec.count; i++) {
      const bytes = await syntheticImage({ format: 'png', width: 64, height: 64, seed: next++, defect: spec.defect });
      await writeFile(path.join(root, folder, `img-${i}.png`), bytes);
    }
  }
}
