export * from './errors';
export * from './access';
export * from './metadata';
export * from './sampling';
