export * from './api-config';
export * from './openapi';
export * from './ops-api.module';
export * from './registry-port';
export * from './access-port';
