export {
  IMAGE_FORMATS,
  IMAGE_CONTENT_TYPES,
  isImageFormat,
  sniff,
  sniffFormat,
  requireSupportedFormat,
  type ImageFormat,
  type SniffResult,
} from './formats';
export { DEFAULT_IMAGE_LIMITS, resolveLimits, type ImageLimits, type DecodeStrictness } from './limits';
export { readHeaderDimensions, type HeaderDimensions } from './header';
export { decodeBmp, readBmpHeader, type BmpHeader, type BmpMasks, type DecodedBmp } from './bmp';
export { probeImage, type ImageProbe } from './probe';
export {
  decodeImage,
  encodePng,
  samples16,
  toPng,
  type Channels,
  type DecodeOptions,
  type DecodedImage,
  type DecodedWithFormat,
  type ToPngOptions,
} from './decode';
export type { BitDepth } from './source';
export { imageObjectKey, isSha256Hex } from './object-key';
export {
  ImageCatalog,
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  type ImageCatalogDeps,
  type ImageListInput,
  type ImagePage,
  type IngestInput,
  type IngestResult,
} from './catalog/image-catalog';
export { KyselyImageRepository, imageRowToRecord } from './catalog/kysely-image-repository';
export { encodeCursor, decodeCursor } from './catalog/cursor';
export type {
  ImageFilters,
  ImageRecord,
  ImageRepository,
  ListPosition,
  ListedImage,
  MetadataPatch,
  NewImage,
  RepositoryListQuery,
} from './catalog/types';
export { openImageCatalog } from './catalog/open-catalog';
export { IMAGE_FILE_NAME, listSourceImages, type SourceLister } from './source-images';
