import sharp from 'sharp';
import { rng } from '../random';

/** A woven-looking grey texture with sensor noise; `defect` paints a dark scratch and a bright spot. */
export async function textureImage(
  seed: number,
  opts: { width?: number; height?: number; defect?: boolean; format?: 'png' | 'jpeg' } = {},
): Promise<{ bytes: Buffer; mask: Buffer }> {
  const w = opts.width ?? 128;
  const h = opts.height ?? 128;
  const next = rng(seed);
  const dx = next() * 6;
  const dy = next() * 6;
  const px = new Uint8Array(w * h * 3);
  const mask = new Uint8Array(w * h * 3);
  const cx = 30 + next() * (w - 60);
  const cy = 30 + next() * (h - 60);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let v = 128 + 40 * Math.sin((x + dx) * 0.8) * Math.sin((y + dy) * 0.8) + (next() - 0.5) * 20;
      let inDefect = false;
      if (opts.defect) {
        const along = (x - cx) * 0.8 + (y - cy) * 0.6;
        const across = -(x - cx) * 0.6 + (y - cy) * 0.8;
        if (Math.abs(across) < 1.8 && Math.abs(along) < 22) {
          v = 25;
          inDefect = true;
        }
        if ((x - cx - 10) ** 2 + (y - cy + 12) ** 2 < 25) {
          v = 250;
          inDefect = true;
        }
      }
      const i = (y * w + x) * 3;
      px[i] = px[i + 1] = px[i + 2] = Math.max(0, Math.min(255, v));
      if (inDefect) {
        mask[i] = 0x23;
        mask[i + 1] = 0xa4;
        mask[i + 2] = 0x36;
      }
    }
  const img = sharp(px, { raw: { width: w, height: h, channels: 3 } });
  const bytes = await (opts.format === 'jpeg' ? img.jpeg({ quality: 95 }) : img.png()).toBuffer();
  return {
    bytes,
    mask: await sharp(mask, { raw: { width: w, height: h, channels: 3 } })
      .png()
      .toBuffer(),
  };
}
