export * from './schema';
export * from './database-config';
export * from './open-database';
export * from './prepare-database';
export { platformMigrations } from './migrations';
export * from './availability';
