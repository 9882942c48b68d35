import path from 'node:path';

/** The repository root: src/ (tests, from source) and dist/ (compiled) both sit two folders below it. */
export const REPOSITORY_ROOT = path.resolve(__dirname, '../../..');
