export * from './schema';
export * from './connect';
export * from './migrate';
export { sql, type Kysely, type Transaction, type Selectable } from 'kysely';
