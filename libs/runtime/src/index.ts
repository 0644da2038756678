export * from './env-config';
export * from './logger';
export * from './shutdown';
export * from './seeded-random';
export * from './key-file';
export * from './scale-out';
export * from './node-id-claim';
export * from './redis-connection';
