export * from './schema';
export * from './connect';
export * from './migrate';
export * from './paging';
export { sql, type Kysely, type Transaction, type Selectable } from 'kysely';
