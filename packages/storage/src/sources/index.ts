export * from './source-reader';
