import sharp from 'sharp';
import { encodeFilteredPalettePng, encodePalettePng, resampleToIndices } from './png';

describe('palette PNG heat maps', () => {
  // A 2 x 2 map upscaled to 4 x 6: columns bilinear (half-pixel centres), rows from the nearest source row.
  const map = Float32Array.of(0, 10, 20, 30);

  it('interpolates along rows and repeats the nearest source row vertically', () => {
    const indices = resampleToIndices(map, 2, 2, 4, 6, 1, 254);
    const rows = Array.from({ length: 6 }, (_, y) => Array.from(indices.subarray(y * 4, y * 4 + 4)));
    expect(rows).toEqual([
      [0, 3, 8, 10],
      [0, 3, 8, 10],
      [0, 3, 8, 10],
      [20, 23, 28, 30],
      [20, 23, 28, 30],
      [20, 23, 28, 30],
    ]);
    // Clamped to the palette's range.
    expect(Array.from(resampleToIndices(Float32Array.of(-5, 900), 2, 1, 2, 1, 1, 254))).toEqual([0, 254]);
  });

  it('writes repeated rows as PNG Up rows that decode to the same pixels as plain Sub-filtered rows', async () => {
    const palette = new Uint8Array(256 * 3).map((_, i) => (i * 7) % 256);
    const w = 120;
    const h = 90;
    const big = Float32Array.from({ length: 12 * 9 }, (_, i) => (i * 37) % 200);
    const filtered = await encodeFilteredPalettePng(resampleToIndices(big, 12, 9, w, h, 1, 254, true), w, h, palette);
    const plain = await encodePalettePng(resampleToIndices(big, 12, 9, w, h, 1, 254), w, h, palette);
    const decode = async (png: Buffer): Promise<Buffer> => sharp(png).raw().toBuffer();
    expect((await sharp(filtered).metadata()).width).toBe(w);
    expect((await decode(filtered)).equals(await decode(plain))).toBe(true);
    expect(filtered.length).toBeLessThan(plain.length);
  });
});
