import { seededRandom } from '@vigil/contracts';

/** The shared seeded PRNG (mulberry32), so that training is reproducible. */
export const rng = seededRandom;

export function gaussianMatrix(rows: number, cols: number, seed: number): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(rows * cols);
  const s = 1 / Math.sqrt(cols);
  for (let i = 0; i < out.length; i += 2) {
    const u = Math.max(next(), 1e-12);
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v) * s;
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v) * s;
  }
  return out;
}

export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const next = rng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = out[i] as T;
    out[i] = out[j] as T;
    out[j] = t;
  }
  return out;
}
