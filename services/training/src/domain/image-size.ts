/** An image's size in pixels. */
export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

/**
 * The one size every image has, or null when they differ or one is unknown. A model version keeps it so that
 * detection can refuse an image of another size, as Lookout does.
 */
export function uniformSize(
  images: readonly { readonly width?: number; readonly height?: number }[],
): ImageSize | null {
  const first = images[0];
  if (!first?.width || !first.height) return null;
  for (const image of images) if (image.width !== first.width || image.height !== first.height) return null;
  return { width: first.width, height: first.height };
}
