export * from './synthetic';
export * from './bmp-encoder';
export * from './in-memory-object-store';
export * from './in-memory-image-repository';
export * from './tiff-encoder';
export * from './database';
