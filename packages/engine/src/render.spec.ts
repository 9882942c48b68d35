import sharp from 'sharp';
import { labelMaskPng } from './render';

const at = { width: 48, height: 32, roi: { left: 0, top: 0, width: 48, height: 32 } };

async function pixels(png: Buffer): Promise<Buffer> {
  return sharp(png).raw().toBuffer();
}

describe('labelMaskPng', () => {
  it('gives every all-background mask of a size the same image, each caller its own buffer', async () => {
    const a = await labelMaskPng(new Uint8Array(24 * 16), 24, 16, ['#FF0000'], at);
    const b = await labelMaskPng(new Uint8Array(24 * 16), 24, 16, ['#FF0000'], at);
    expect(a).not.toBe(b);
    expect(b.equals(a)).toBe(true);
    a.fill(0); // a caller scribbling on its copy changes nothing for the next one
    const c = await labelMaskPng(new Uint8Array(24 * 16), 24, 16, ['#FF0000'], at);
    expect(c.equals(b)).toBe(true);
    expect((await pixels(c)).every((v) => v === 0)).toBe(true);
  });

  it('draws a defect pixel in its class colour, upscaled', async () => {
    const labels = new Uint8Array(24 * 16);
    labels[5 * 24 + 7] = 1;
    const rgb = await pixels(await labelMaskPng(labels, 24, 16, ['#FF0000'], at));
    const px = (x: number, y: number): number[] => Array.from(rgb.subarray((y * 48 + x) * 3, (y * 48 + x) * 3 + 3));
    expect(px(14, 10)).toEqual([255, 0, 0]);
    expect(px(15, 11)).toEqual([255, 0, 0]);
    expect(px(0, 0)).toEqual([0, 0, 0]);
  });
});
