import { sniffFormat, toPng } from '@vigil/images';

/**
 * The engine decodes with sharp, which has no BMP decoder, while the image catalogue accepts BMP: such an image
 * is handed over as a lossless PNG of the same pixels. Every other format goes as stored.
 */
export async function engineReadable(bytes: Buffer): Promise<Buffer> {
  return sniffFormat(bytes) === 'bmp' ? toPng(bytes) : bytes;
}
