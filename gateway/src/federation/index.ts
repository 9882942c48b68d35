export * from './compose';
export * from './in-process-data-source';
export * from './remote-data-source';
