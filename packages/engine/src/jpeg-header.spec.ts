import sharp from 'sharp';
import { readJpegHeader } from './jpeg-header';

const raw = { raw: { width: 40, height: 30, channels: 3 as const } };
const pixels = Buffer.alloc(40 * 30 * 3, 128);

describe('readJpegHeader', () => {
  it('reads size, components, EXIF orientation and ICC presence as sharp does', async () => {
    const files = [
      await sharp(pixels, raw).jpeg().toBuffer(),
      await sharp(pixels, raw).jpeg({ progressive: true }).withMetadata({ orientation: 6 }).toBuffer(),
      await sharp(pixels, raw).greyscale().jpeg().withIccProfile('p3').toBuffer(),
      await sharp(pixels, raw).jpeg().withMetadata({ orientation: 3 }).toBuffer(),
    ];
    for (const f of files) {
      const meta = await sharp(f).metadata();
      expect(readJpegHeader(f)).toEqual({
        width: meta.width,
        height: meta.height,
        components: meta.channels,
        orientation: meta.orientation ?? 1,
        hasIccProfile: Boolean(meta.hasProfile),
      });
    }
  });

  it('gives up (the caller asks sharp) on anything it does not understand, without reading out of bounds', async () => {
    const jpeg = await sharp(pixels, raw).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect(readJpegHeader(await sharp(pixels, raw).png().toBuffer())).toBeUndefined();
    expect(readJpegHeader(new Uint8Array(0))).toBeUndefined();
    // Every truncation of the header, and a corrupted length in each position: undefined or a consistent answer.
    const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
    for (let n = 0; n < sof + 10; n++) {
      const h = readJpegHeader(jpeg.subarray(0, n));
      if (h) expect([h.width, h.height]).toEqual([40, 30]);
    }
    for (let i = 2; i < sof; i++) {
      const broken = Buffer.from(jpeg);
      broken[i] = 0xff - (broken[i] as number);
      const h = readJpegHeader(broken);
      if (h) expect(h.width * h.height).toBeGreaterThan(0);
    }
    // A height left to a later DNL marker (0 in the frame header) is not ours to read.
    const noHeight = Buffer.from(jpeg);
    noHeight[sof + 5] = 0;
    noHeight[sof + 6] = 0;
    expect(readJpegHeader(noHeight)).toBeUndefined();
  });
});
